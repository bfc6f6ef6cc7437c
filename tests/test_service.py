"""The service on both backends: one transaction per event, idempotent replays, outbox rows in order."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from adapters.memory import MemoryChannel
from bots.worker import Worker
from core.channel import Delivery, OutboundChannel
from core.profiles import AlertTarget, ProfileSettings, Subscription
from core.reports import summary
from core.service import SurveyService
from core.store import Store
from core.store import outbox as ob
from core.store.tables import ContactRow, InboundKeyRow, OutboxRow, SurveyRow
from core.survey import Policy
from core.types import Address, ConversationClosed, ConversationReopened, EventNotice, TextReceived


def settings(**policy: object) -> dict[str, ProfileSettings]:
    return {
        "acme": ProfileSettings(
            "acme",
            Policy(brand="Acme", **policy),  # type: ignore[arg-type]
            alert_targets=(AlertTarget("memory", "leads"),),
            subscriptions=(Subscription("https://hooks.example/nps"),),
        )
    }


@pytest.fixture
def service(store: Store, clock) -> SurveyService:
    return SurveyService(store, settings(), clock)


@pytest.fixture
def chat(service: SurveyService) -> MemoryChannel:
    return MemoryChannel(service, "acme")


async def count(store: Store, table) -> int:
    async with store.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def rows(store: Store, table) -> list:
    async with store.read() as conn:
        return list((await conn.execute(select(table).order_by(table.c[next(iter(table.c.keys()))]))).all())


OUT = OutboxRow.__table__
SUR = SurveyRow.__table__


async def test_replaying_every_inbound_event_changes_nothing(store: Store, chat: MemoryChannel) -> None:
    async def conversation() -> list[str]:
        return [
            (await chat.close("c1", "u1", agent="ana", event_id="e1")).status,
            (await chat.reply("c1", "u1", "hmm", event_id="e2")).status,
            (await chat.tap("c1", "u1", 4, event_id="e3")).status,
            (await chat.reply("c1", "u1", "Too slow", event_id="e4")).status,
        ]

    assert await conversation() == ["ok", "ok", "ok", "ok"]
    before = (await rows(store, SUR), await rows(store, OUT), await count(store, ContactRow.__table__))
    assert await conversation() == ["duplicate"] * 4
    after = (await rows(store, SUR), await rows(store, OUT), await count(store, ContactRow.__table__))
    assert before == after
    assert await count(store, InboundKeyRow.__table__) == 4
    kinds = [r.kind for r in before[1]]
    assert kinds == [
        "ask_score",
        "say",  # re-ask
        "mark_answered",
        "ask_comment",
        "event_notice",  # survey.responded
        "say",  # thanks
        "event_notice",  # survey.completed
        "detractor_alert",
        "event_notice",  # detractor.created
    ]


async def test_whole_loop_through_the_worker_in_order(store: Store, service: SurveyService, chat) -> None:
    sent_events: list[dict] = []

    class Events(OutboundChannel):
        async def notify(self, delivery: Delivery, action: EventNotice) -> str:
            sent_events.append({"type": action.type, "data": action.data})
            return "ok"

    worker = Worker(service, {("memory", "acme"): chat, ("events", "*"): Events()})
    await chat.close("c1", "u1", agent="ana", locale="it")
    await worker.drain()
    await chat.reply("c1", "u1", "nove")
    await chat.reply("c1", "u1", "Molto gentili")
    await worker.drain()
    delivered = chat.inbox("c1")
    assert [d.kind for d in delivered] == ["ask_score", "mark_answered", "ask_comment", "say"]
    assert "raccomand" in delivered[0].action.text.lower()
    assert [e["type"] for e in sent_events] == ["survey.responded", "survey.completed"]
    assert sent_events[1]["data"]["score"] == 9 and sent_events[1]["data"]["comment"] == "Molto gentili"
    # the edit of the question carries the platform id of the question it edits
    assert delivered[1].delivery.question_ref == delivered[0].ref
    assert await count(store, OUT) == 6
    async with store.read() as conn:
        statuses = set((await conn.execute(select(OUT.c.status))).scalars())
    assert statuses == {"sent"}


async def test_one_survey_per_case_and_reopen_frees_it(store: Store, chat: MemoryChannel, clock) -> None:
    first = await chat.close("c1", "u1")
    second = await chat.close("c1", "u1")
    assert first.survey.state == "asked"
    assert second.survey.state == "skipped" and second.survey.skip_reason == "duplicate"
    reopened = await chat.service.handle(ConversationReopened(Address("memory", "acme", "c1", "")))
    assert reopened.survey.state == "skipped" and reopened.survey.skip_reason == "reopened"
    again = await chat.close("c1", "u1")
    assert again.survey.state == "skipped" and again.survey.skip_reason == "throttled"


async def test_throttle_per_contact_across_conversations(store: Store, chat: MemoryChannel, clock) -> None:
    assert (await chat.close("c1", "u1")).survey.state == "asked"
    clock.advance(days=10)
    assert (await chat.close("c2", "u1")).survey.skip_reason == "throttled"
    assert (await chat.close("c3", "u2")).survey.state == "asked"
    clock.advance(days=21)
    assert (await chat.close("c4", "u1")).survey.state == "asked"


async def test_opt_out_is_remembered(store: Store, chat: MemoryChannel, clock) -> None:
    await chat.close("c1", "u1")
    out = await chat.reply("c1", "u1", "STOP")
    assert out.survey.state == "opted_out"
    clock.advance(days=400)
    assert (await chat.close("c2", "u1")).survey.skip_reason == "opted_out"


async def test_text_without_a_survey_is_not_an_error(chat: MemoryChannel) -> None:
    assert (await chat.reply("nowhere", "u9", "hello")).status == "no_survey"


async def test_taps_on_closed_or_foreign_surveys(store: Store, chat: MemoryChannel, clock) -> None:
    opened = await chat.close("c1", "u1")
    sid = opened.survey.id
    assert (await chat.tap("c1", "intruder", 0, survey_id=sid)).status == "not_yours"
    assert (await chat.tap("c1", "u1", 9, survey_id=sid)).status == "ok"
    assert (await chat.tap("c1", "u1", 2, survey_id=sid)).status == "already_answered"
    other = await chat.close("c2", "u2")
    clock.advance(hours=25)
    await chat.service.tick()
    assert (await chat.tap("c2", "u2", 5, survey_id=other.survey.id)).status == "closed"


async def test_send_delay_expiry_and_comment_window_are_driven_from_the_database(store: Store, clock) -> None:
    service = SurveyService(store, settings(send_delay=timedelta(minutes=5)), clock)
    chat = MemoryChannel(service, "acme")
    assert (await chat.close("c1", "u1")).survey.state == "pending"
    assert (await chat.close("c2", "u2")).survey.state == "pending"
    assert await service.tick() == 0
    clock.advance(minutes=5)
    assert await service.tick() == 2
    await chat.tap("c1", "u1", 1)
    clock.advance(hours=1)
    assert await service.tick() == 1  # c1's comment window closed
    clock.advance(hours=23)
    assert await service.tick() == 1  # c2 expired
    async with store.read() as conn:
        states = dict((await conn.execute(select(SUR.c.conversation_id, SUR.c.state))).all())
    assert states == {"c1": "completed", "c2": "expired"}
    async with store.read() as conn:
        alerts = (await conn.execute(select(func.count()).where(OUT.c.kind == "detractor_alert"))).scalar_one()
    assert alerts == 1


async def test_concurrent_taps_score_once(store: Store, chat: MemoryChannel) -> None:
    opened = await chat.close("c1", "u1")
    results = await asyncio.gather(*(chat.tap("c1", "u1", s, survey_id=opened.survey.id) for s in (3, 9, 10, 0)))
    statuses = sorted(r.status for r in results)
    assert statuses == ["already_answered", "already_answered", "already_answered", "ok"]
    async with store.read() as conn:
        n = (await conn.execute(select(func.count()).where(OUT.c.kind == "ask_comment"))).scalar_one()
    assert n == 1


async def test_concurrent_closes_of_one_case_make_one_survey(store: Store, chat: MemoryChannel) -> None:
    results = await asyncio.gather(*(chat.close("c1", f"u{i}") for i in range(5)))
    states = sorted(r.survey.state for r in results)
    assert states.count("asked") == 1 and states.count("skipped") == 4


async def test_report_summary_from_sql(store: Store, chat: MemoryChannel) -> None:
    for i, score in enumerate([10, 9, 9, 8, 7, 6, 3, 0]):
        await chat.close(f"c{i}", f"u{i}")
        await chat.tap(f"c{i}", f"u{i}", score)
    await chat.close("silent", "u99")
    s = await summary(store)
    assert (s.result.promoters, s.result.passives, s.result.detractors) == (3, 2, 3)
    assert s.result.nps == 0.0 and s.asked == 9
    assert s.response_rate == pytest.approx(8 / 9)


async def test_outbox_lease_expiry_and_stale_worker(store: Store, service: SurveyService, clock) -> None:
    chat = MemoryChannel(service, "acme")
    await chat.close("c1", "u1")
    await chat.close("c2", "u2")
    async with store.transaction() as conn:
        a = await ob.claim(conn, "w1", clock(), timedelta(seconds=30), 10)
    assert len(a) == 2
    async with store.transaction() as conn:
        assert await ob.claim(conn, "w2", clock(), timedelta(seconds=30), 10) == []
    clock.advance(seconds=31)  # w1 died; its lease ran out
    async with store.transaction() as conn:
        b = await ob.claim(conn, "w2", clock(), timedelta(seconds=30), 10)
        assert [i.id for i in b] == [i.id for i in a] and all(i.attempts == 2 for i in b)
    async with store.transaction() as conn:
        assert await ob.mark_sent(conn, a[0].id, "w1", clock(), "late") is False
        assert await ob.mark_sent(conn, b[0].id, "w2", clock(), "ok") is True


async def test_later_message_waits_for_earlier_in_same_conversation(store: Store, chat: MemoryChannel, clock) -> None:
    await chat.close("c1", "u1")
    await chat.tap("c1", "u1", 9)
    async with store.transaction() as conn:
        first = await ob.claim(conn, "w", clock(), timedelta(seconds=30), 10)
    assert [i.kind for i in first] == ["ask_score", "event_notice"]  # the event goes to its own ordering key
    async with store.transaction() as conn:
        await ob.mark_retry(conn, first[0].id, "w", clock() + timedelta(seconds=60), "boom")
        assert await ob.mark_sent(conn, first[1].id, "w", clock(), None)
        assert await ob.claim(conn, "w", clock(), timedelta(seconds=30), 10) == []
    clock.advance(seconds=61)
    async with store.transaction() as conn:
        again = await ob.claim(conn, "w", clock(), timedelta(seconds=30), 10)
    assert [i.kind for i in again] == ["ask_score"]


async def test_text_event_routes_by_conversation_and_user(store: Store, chat: MemoryChannel) -> None:
    await chat.close("c1", "u1")
    other = await chat.service.handle(TextReceived(Address("memory", "acme", "c1", "someone-else"), "10"))
    assert other.status == "no_survey"


async def test_metadata_is_kept(store: Store, service: SurveyService) -> None:
    event = ConversationClosed(Address("memory", "acme", "c1", "u1"), metadata={"ticket": 42, "tier": "gold"})
    out = await service.handle(event)
    async with store.read() as conn:
        extra = (await conn.execute(select(SUR.c.extra).where(SUR.c.id == out.survey.id))).scalar_one()
    assert extra == {"ticket": 42, "tier": "gold"}


async def test_nul_characters_from_a_platform_are_dropped_not_fatal(store: Store, service: SurveyService) -> None:
    """PostgreSQL refuses NUL in text; a bridge that sends one must not turn its delivery into endless retries."""
    where = Address("memory", "acme", "c\x00-1", "u\x00-1")
    await service.handle(ConversationClosed(where, agent="an\x00a", metadata={"k\x00": ["v\x00"]}), dedup_key="k\x00")
    await service.handle(TextReceived(where, "9\x00"))
    out = await service.handle(TextReceived(where, "slow\x00 answers"))
    assert out.status == "ok"
    [row] = await rows(store, SUR)
    assert (row.conversation_id, row.user_id, row.agent) == ("c-1", "u-1", "ana")
    assert (row.score, row.comment, row.extra) == (9, "slow answers", {"k": ["v"]})


async def snapshot(store: Store) -> tuple:
    """Every row an inbound event can touch."""
    tables = (SUR, OUT, ContactRow.__table__, InboundKeyRow.__table__)
    return tuple([[tuple(r) for r in await rows(store, t)] for t in tables])


async def test_each_inbound_event_replayed_at_once_changes_nothing(store: Store, chat: MemoryChannel, clock) -> None:
    """Platforms re-deliver right away (a timeout, a retry header): the second copy must be a no-op, in every
    state, for every kind of event, on both backends."""
    deliveries = [
        lambda: chat.close("c1", "u1", agent="ana", team="billing", locale="ca", event_id="e1"),
        lambda: chat.reply("c1", "u1", "potser", event_id="e2"),  # re-asked
        lambda: chat.reply("c1", "u1", "ni idea", event_id="e3"),  # kept as text
        lambda: chat.reply("c1", "u1", "nou", event_id="e4"),  # scored
        lambda: chat.tap("c1", "u1", 2, event_id="e5"),  # a late tap: already answered
        lambda: chat.reply("c1", "u1", "Molt ràpids", event_id="e6"),  # comment, completed
        lambda: chat.close("c2", "u2", event_id="e7"),
        lambda: chat.reopen("c2", event_id="e8"),  # withdrawn
        lambda: chat.close("c3", "u3", event_id="e9"),
        lambda: chat.tap("c3", "u3", 1, event_id="e10"),
        lambda: chat.reply("c3", "u3", "baja", event_id="e11"),  # opt-out after a detractor score
        lambda: chat.close("c4", "u4", event_id="e12"),
        lambda: chat.block("c4", "u4", event_id="e13"),  # the platform reports a block
        lambda: chat.close("c5", "u3", event_id="e14"),  # skipped: u3 opted out
    ]
    for i, deliver in enumerate(deliveries, 1):
        first = await deliver()
        assert first.status != "duplicate", i
        before = await snapshot(store)
        clock.advance(seconds=1)
        again = await deliver()
        assert again.status == "duplicate", i
        assert await snapshot(store) == before, f"replaying event {i} changed the database"
    states = {r.conversation_id: (r.state, r.skip_reason, r.score) for r in await rows(store, SUR)}
    assert states == {
        "c1": ("completed", None, 9),
        "c2": ("skipped", "reopened", None),
        "c3": ("completed", None, 1),
        "c4": ("opted_out", None, None),
        "c5": ("skipped", "opted_out", None),
    }


async def test_opt_out_after_a_score_keeps_the_response_and_the_wish(store: Store, chat: MemoryChannel, clock) -> None:
    await chat.close("c1", "u1", agent="ana")
    await chat.tap("c1", "u1", 4)
    out = await chat.reply("c1", "u1", "Stop, please")
    assert out.survey.state == "completed" and out.survey.score == 4
    async with store.read() as conn:
        kinds = list((await conn.execute(select(OUT.c.kind).order_by(OUT.c.id))).scalars())
    assert kinds[-4:] == ["say", "event_notice", "detractor_alert", "event_notice"]  # confirmation, completed, alert
    s = await summary(store)
    assert s.result.detractors == 1
    clock.advance(days=365)
    assert (await chat.close("c2", "u1")).survey.skip_reason == "opted_out"


async def test_reopen_of_a_pending_survey_frees_its_case(store: Store, clock) -> None:
    service = SurveyService(store, settings(send_delay=timedelta(minutes=5)), clock)
    chat = MemoryChannel(service, "acme")
    assert (await chat.close("c1", "u1")).survey.state == "pending"
    assert (await chat.reopen("c1")).survey.skip_reason == "reopened"
    clock.advance(minutes=5)
    assert await service.tick() == 0  # the withdrawn survey is never sent
    again = await chat.close("c1", "u1")
    assert again.survey.state == "pending", "the case is free again and nobody was asked, so no throttle"
    clock.advance(minutes=5)
    await service.tick()
    async with store.read() as conn:
        asked = (await conn.execute(select(func.count()).where(OUT.c.kind == "ask_score"))).scalar_one()
    assert asked == 1


async def test_survey_records_who_and_where_at_close(store: Store, chat: MemoryChannel) -> None:
    out = await chat.close("conv-9", "cust-9", agent="Marta", team="billing", locale="pt-BR", name="Lucía")
    [row] = await rows(store, SUR)
    assert (row.profile, row.channel, row.conversation_id, row.user_id) == ("acme", "memory", "conv-9", "cust-9")
    assert (row.agent, row.team, row.locale, row.customer_name) == ("Marta", "billing", "pt", "Lucía")
    assert row.id == out.survey.id and row.asked_at is not None


async def test_sqlite_runs_in_wal_mode_with_one_writer(sqlite_store: Store) -> None:
    async with sqlite_store.read() as conn:
        mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar_one()
    assert mode == "wal"
    order: list[str] = []

    async def work(name: str):
        async def unit(conn) -> None:
            order.append(f"{name}+")
            await asyncio.sleep(0.01)
            order.append(f"{name}-")

        await sqlite_store.run_in_transaction(unit)

    await asyncio.gather(work("a"), work("b"))
    assert order in (["a+", "a-", "b+", "b-"], ["b+", "b-", "a+", "a-"])  # never interleaved


async def test_the_stored_row_is_the_survey_after_every_step(store: Store, service: SurveyService, clock) -> None:
    """An update writes only the columns that changed; after each step the row must still read back as the whole
    survey the service returned, deadline included."""
    from core.store import surveys as q

    chat = MemoryChannel(service, "acme")
    policy = service.profile("acme").policy

    async def stored(survey_id: int):
        async with store.read() as conn:
            row = (await conn.execute(select(SUR).where(SUR.c.id == survey_id))).one()
        return q.to_survey(row), row.next_check_at, row.case_key

    steps = [(await chat.close("c1", "u1", agent="Ana", locale="es")).survey]
    for text in ("no idea", "ocho", "the app is slow"):
        row, deadline, case = await stored(steps[-1].id)
        assert row == steps[-1] and deadline == steps[-1].next_deadline(policy) and case is not None
        clock.advance(minutes=1)
        steps.append((await chat.reply("c1", "u1", text)).survey)
    assert [s.state for s in steps] == ["asked", "asked", "scored", "completed"]
    assert steps[1].reasks == 1 and steps[1].unparsed == ("no idea",) and steps[3].comment == "the app is slow"
    row, deadline, case = await stored(steps[-1].id)
    assert row == steps[-1] and deadline is None and case is not None

    withdrawn = (await chat.close("c2", "u2")).survey
    clock.advance(minutes=1)
    reopened = (await chat.reopen("c2")).survey
    row, deadline, case = await stored(withdrawn.id)
    assert row == reopened and reopened.skip_reason == "reopened"
    assert deadline is None and case is None  # the case is free for the next close
