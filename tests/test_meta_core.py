"""The core side of the Meta channels, on SQLite and PostgreSQL: the last inbound time per contact (one upsert per
batch, never backwards, moved forward by a close's hint too), the question's delivery status (only forward), a
question refused outside the messaging window skipping its survey, and the report's delivered questions, response
rate against them and skipped surveys by reason — in the API, the dashboard's data and `npsbot report`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, select, text

from bots.app import create_app
from bots.config import parse_config
from bots.report_cli import run_report
from bots.runtime import Runtime
from bots.worker import Worker
from core.channel import Delivery
from core.delivery import OutsideWindow, PermanentFailure
from core.last_inbound import last_message_hint
from core.profiles import ProfileSettings
from core.reports import Filters
from core.reports.delivery import channel_rows, delivery_by_channel, skipped_by_reason, total_skipped
from core.service import SurveyService
from core.store import Store
from core.store.tables import ContactRow, OutboxRow, SurveyRow
from core.survey import Policy, SkipReason
from core.types import Address, AskComment, AskScore, ConversationClosed, OutboundAction, TextReceived
from tests.conftest import TABLES, FakeClock
from tests.test_worker import Scripted

S, C, OB = SurveyRow.__table__, ContactRow.__table__, OutboxRow.__table__
PROFILE, WA, TG = "acme", "whatsapp", "telegram"
ADMIN = "admin-token-for-meta-core-0001"


def service_on(store: Store, clock: FakeClock) -> SurveyService:
    return SurveyService(store, {PROFILE: ProfileSettings(PROFILE, Policy(brand="Acme", throttle=timedelta(0)))}, clock)


async def contact(store: Store, user: str, channel: str = WA) -> Any:
    async with store.read() as conn:
        return (await conn.execute(select(C).where(C.c.user_id == user, C.c.channel == channel))).first()


async def survey_row(store: Store, survey_id: int) -> Any:
    async with store.read() as conn:
        return (await conn.execute(select(S).where(S.c.id == survey_id))).one()


class WindowClosed(Scripted):
    """Sends like Scripted, answering an ask_score with `wamid.<user>`, but refuses with OutsideWindow what
    `refused` names as (user, action type), as a Meta channel does once a window closed with no fallback."""

    def __init__(self, *refused: tuple[str, type]) -> None:
        super().__init__()
        self.refused = set(refused)

    async def answer(self, delivery: Delivery, action: OutboundAction) -> str | None:
        self.actions.append(action)
        if (delivery.user_id, type(action)) in self.refused:
            raise OutsideWindow("Graph API error 131047 (HTTP 400)")
        self.calls.append(delivery)
        return f"wamid.{delivery.user_id}" + ("" if isinstance(action, AskScore) else f".{len(self.calls)}")


async def close(service: SurveyService, user: str, channel: str = WA, conversation: str | None = None,
                **metadata: Any) -> int:  # fmt: skip
    address = Address(channel, PROFILE, conversation or user, user)
    out = await service.handle(ConversationClosed(address, metadata=metadata))
    assert out.survey is not None and out.survey.id is not None
    return out.survey.id


async def reply(service: SurveyService, user: str, text_: str, channel: str = WA) -> None:
    await service.handle(TextReceived(Address(channel, PROFILE, user, user), text_))


# ---- the last inbound time -----------------------------------------------------------------------------------------


async def test_the_last_inbound_time_never_moves_backwards(store: Store, clock: FakeClock) -> None:
    service = service_on(store, clock)
    t = clock() - timedelta(hours=3)
    assert await service.last_inbound(PROFILE, WA, "31611111111") is None
    await service.contacts_seen(PROFILE, WA, [("31611111111", t)])
    assert await service.last_inbound(PROFILE, WA, "31611111111") == t
    await service.contacts_seen(PROFILE, WA, [("31611111111", t - timedelta(minutes=5))])  # a late redelivery
    assert await service.last_inbound(PROFILE, WA, "31611111111") == t
    await service.contacts_seen(PROFILE, WA, [("31611111111", t + timedelta(hours=1))])
    assert await service.last_inbound(PROFILE, WA, "31611111111") == t + timedelta(hours=1)
    await service.contacts_seen(PROFILE, WA, [("31611111111", clock() + timedelta(days=2))])  # a clock ahead
    assert await service.last_inbound(PROFILE, WA, "31611111111") == clock()
    assert await service.last_inbound(PROFILE, "messenger", "31611111111") is None  # per channel
    assert await service.last_inbound("other", WA, "31611111111") is None  # and per profile


async def test_a_batch_is_one_upsert_that_keeps_every_other_contact_field(store: Store, clock: FakeClock) -> None:
    service = service_on(store, clock)
    await close(service, "known")  # an existing contact, with its other fields set
    base = clock() - timedelta(hours=1)
    seen = [(f"user{i:04d}", base + timedelta(seconds=i)) for i in range(300)]
    seen += [("known", base), ("known", base + timedelta(minutes=9)), ("user0001", base - timedelta(days=1))]
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "contacts" in statement and statement.lstrip().upper().startswith("INSERT"):
            statements.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", count)
    try:
        await service.contacts_seen(PROFILE, WA, seen)
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", count)
    assert len(statements) == 1
    async with store.read() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM contacts"))).scalar_one() == 301
    known = await contact(store, "known")
    assert known.last_inbound_at == base + timedelta(minutes=9)  # the newest of its batch
    assert known.last_surveyed_at == clock()  # untouched by the upsert
    assert (await contact(store, "user0001")).last_inbound_at == base + timedelta(seconds=1)
    await service.contacts_seen(PROFILE, WA, [])  # nothing to do, nothing fails


async def test_contacts_seen_refuses_what_cannot_be_a_contact(store: Store, clock: FakeClock) -> None:
    service = service_on(store, clock)
    for bad in [("", clock()), ("x" * 129, clock()), ("ok", datetime(2026, 3, 1))]:
        with pytest.raises(ValueError):
            await service.contacts_seen(PROFILE, WA, [bad])


async def test_a_close_carrying_the_last_message_time_moves_it_forward_only(store: Store, clock: FakeClock) -> None:
    service = service_on(store, clock)
    two_hours_ago = clock() - timedelta(hours=2)
    await service.contacts_seen(PROFILE, WA, [("31622222222", two_hours_ago)])
    await close(service, "31622222222", last_customer_message_at=(clock() - timedelta(hours=30)).isoformat())
    assert await service.last_inbound(PROFILE, WA, "31622222222") == two_hours_ago  # older hint: kept
    clock.advance(days=31)
    ten_min_ago = clock() - timedelta(minutes=10)
    await close(service, "31622222222", last_customer_message_at=ten_min_ago.timestamp())  # Unix seconds
    assert await service.last_inbound(PROFILE, WA, "31622222222") == ten_min_ago
    await close(service, "31633333333", last_customer_message_at="2026-04-02T08:00:00")  # no offset: UTC
    assert await service.last_inbound(PROFILE, WA, "31633333333") == datetime(2026, 4, 2, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("hint", ["yesterday", "", None, True, 1e30, "1999-12-31T00:00:00Z", ["2026-01-01"], "9" * 80])
def test_a_hint_that_is_not_a_time_is_ignored(hint: Any) -> None:
    assert last_message_hint({"last_customer_message_at": hint}, datetime(2026, 3, 2, tzinfo=UTC)) is None


def test_a_hint_ahead_of_the_clock_counts_as_now() -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert last_message_hint({"last_customer_message_at": "2026-03-05T00:00:00+00:00"}, now) == now
    assert last_message_hint({"last_customer_message_at": "2026-03-02T10:00:00+02:00"}, now) == datetime(
        2026, 3, 2, 8, 0, tzinfo=UTC
    )


# ---- the question's delivery status ---------------------------------------------------------------------------------


async def asked(service: SurveyService, store: Store, clock: FakeClock, user: str, ref: str | None) -> int:
    """A survey whose question the worker sent (the channel answered `ref`)."""
    survey_id = await close(service, user)
    worker = Worker(service, {(WA, PROFILE): Scripted(*([ref] if ref else [None]))})
    await worker.drain()
    return survey_id


async def test_the_worker_records_the_question_as_sent_with_its_ref(store: Store, clock: FakeClock) -> None:
    service = service_on(store, clock)
    survey_id = await asked(service, store, clock, "31611111111", "wamid.Q1")
    row = await survey_row(store, survey_id)
    assert (row.question_ref, row.question_status, row.question_status_at) == ("wamid.Q1", "sent", clock())


async def test_a_status_only_moves_forward(store: Store, clock: FakeClock) -> None:
    service = service_on(store, clock)
    survey_id = await asked(service, store, clock, "31611111111", "wamid.Q1")
    t0 = clock()

    async def status(value: str, minutes: int, ref: str = "wamid.Q1", **where: str) -> bool:
        profile, channel = where.get("profile", PROFILE), where.get("channel", WA)
        return await service.question_status(profile, channel, ref, value, t0 + timedelta(minutes=minutes))

    assert await status("sent", 1) is False  # already sent
    assert await status("read", 3) is True  # a read receipt overtook the delivery receipt
    assert await status("delivered", 2) is False
    assert await status("failed", 4) is False  # nothing fails once read
    row = await survey_row(store, survey_id)
    assert (row.question_status, row.question_status_at) == ("read", t0 + timedelta(minutes=3))
    assert await status("delivered", 1, ref="wamid.OTHER") is False  # no survey asked it so
    assert await status("delivered", 1, profile="other") is False  # another profile's ref is not ours
    assert await status("delivered", 1, channel="messenger") is False
    with pytest.raises(ValueError):
        await status("seen", 5)


async def test_a_failure_counts_until_read_and_nothing_follows_it(store: Store, clock: FakeClock) -> None:
    service = service_on(store, clock)
    survey_id = await asked(service, store, clock, "31611111111", "wamid.Q2")
    assert await service.question_status(PROFILE, WA, "wamid.Q2", "delivered", clock())
    assert await service.question_status(PROFILE, WA, "wamid.Q2", "failed", clock())
    assert not await service.question_status(PROFILE, WA, "wamid.Q2", "read", clock())
    assert not await service.question_status(PROFILE, WA, "wamid.Q2", "delivered", clock())
    assert (await survey_row(store, survey_id)).question_status == "failed"


async def test_a_closed_window_reported_after_the_send_skips_the_unanswered_survey(
    store: Store, clock: FakeClock
) -> None:
    """WhatsApp accepts the question and reports 131047 later, in a `failed` status."""
    service = service_on(store, clock)
    open_id = await asked(service, store, clock, "31611111111", "wamid.LATE")
    answered_id = await asked(service, store, clock, "31622222222", "wamid.ANSWERED")
    await reply(service, "31622222222", "9")
    assert await service.question_failed(PROFILE, WA, "wamid.LATE", clock(), SkipReason.OUTSIDE_WINDOW) is True
    assert await service.question_failed(PROFILE, WA, "wamid.ANSWERED", clock(), SkipReason.OUTSIDE_WINDOW) is False
    assert await service.question_failed(PROFILE, WA, "wamid.NOBODY", clock(), SkipReason.OUTSIDE_WINDOW) is False
    skipped, kept = await survey_row(store, open_id), await survey_row(store, answered_id)
    assert (skipped.state, skipped.skip_reason, skipped.question_status) == ("skipped", "outside_window", "failed")
    assert (kept.state, kept.skip_reason, kept.score) == ("scored", None, 9)


# ---- the worker and OutsideWindow ------------------------------------------------------------------------------------


async def test_a_question_refused_outside_the_window_is_a_dead_letter_and_skips_its_survey(
    store: Store, clock: FakeClock
) -> None:
    service = service_on(store, clock)
    survey_id = await close(service, "31611111111")
    await Worker(service, {(WA, PROFILE): WindowClosed(("31611111111", AskScore))}).drain()
    row = await survey_row(store, survey_id)
    assert (row.state, row.skip_reason, row.next_check_at) == ("skipped", "outside_window", None)
    async with store.read() as conn:
        [dead] = (await conn.execute(select(OB.c.kind, OB.c.status, OB.c.last_error))).all()
    assert dead == ("ask_score", "dead", "Graph API error 131047 (HTTP 400)")
    assert (await contact(store, "31611111111")).unreachable_at is None  # the customer can be asked next time
    assert (await skipped_by_reason(store)) == {WA: {"outside_window": 1}}


async def test_a_question_that_never_reached_the_customer_frees_its_case_and_their_throttle(
    store: Store, clock: FakeClock
) -> None:
    """The refused question bothered nobody: closing the same case again surveys it, and the contact's throttle
    counts from the last survey that did reach them (none here, then the earlier one)."""
    service = SurveyService(store, {PROFILE: ProfileSettings(PROFILE, Policy(throttle=timedelta(days=30)))}, clock)
    user = "31611111111"
    first = await close(service, user, conversation="case-1")
    await Worker(service, {(WA, PROFILE): WindowClosed((user, AskScore))}).drain()
    assert (await survey_row(store, first)).skip_reason == "outside_window"
    assert (await contact(store, user)).last_surveyed_at is None

    clock.advance(hours=1)
    again = await close(service, user, conversation="case-1")  # the same case, closed again
    await Worker(service, {(WA, PROFILE): Scripted("wamid.REACHED")}).drain()
    reached = await survey_row(store, again)
    assert (reached.state, reached.skip_reason, reached.asked_at) == ("asked", None, clock())
    asked_at = clock()

    clock.advance(days=40)  # past the throttle: asked again, and this time refused
    third = await close(service, user, conversation="case-2")
    await Worker(service, {(WA, PROFILE): WindowClosed((user, AskScore))}).drain()
    assert (await survey_row(store, third)).skip_reason == "outside_window"
    assert (await contact(store, user)).last_surveyed_at == asked_at


async def test_outside_window_on_another_kind_is_an_ordinary_dead_letter(store: Store, clock: FakeClock) -> None:
    service = service_on(store, clock)
    survey_id = await close(service, "31611111111")
    worker = Worker(service, {(WA, PROFILE): WindowClosed(("31611111111", AskComment))})
    await worker.drain()
    await reply(service, "31611111111", "10")  # the comment question is refused
    await worker.drain()
    row = await survey_row(store, survey_id)
    assert (row.state, row.score, row.skip_reason) == ("scored", 10, None)
    async with store.read() as conn:
        statuses = dict((await conn.execute(select(OB.c.kind, OB.c.status).order_by(OB.c.id))).all())
    assert statuses == {"ask_score": "sent", "mark_answered": "sent", "ask_comment": "dead"}


async def test_other_permanent_failures_leave_the_survey_alone(store: Store, clock: FakeClock) -> None:
    service = service_on(store, clock)
    survey_id = await close(service, "31611111111")
    await Worker(service, {(WA, PROFILE): Scripted(PermanentFailure("400 Bad Request"))}).drain()
    assert (await survey_row(store, survey_id)).state == "asked"


# ---- the report ---------------------------------------------------------------------------------------------------


async def world(service: SurveyService, store: Store, clock: FakeClock) -> None:
    """WhatsApp reports statuses: 4 questions — read and answered, delivered, sent only (a receipt lost), failed —
    plus one refused outside the window. Telegram reports none: 3 questions sent, 1 answered. One Telegram survey is
    skipped for throttling."""
    worker = Worker(service, {(WA, PROFILE): WindowClosed(("w5", AskScore)), (TG, PROFILE): WindowClosed()})
    for user in ("w1", "w2", "w3", "w4", "w5"):
        await close(service, user)
    for user in ("t1", "t2", "t3"):
        await close(service, user, TG)
    await worker.drain()
    await service.question_status(PROFILE, WA, "wamid.w1", "read", clock())
    await service.question_status(PROFILE, WA, "wamid.w2", "delivered", clock())
    await service.question_status(PROFILE, WA, "wamid.w4", "failed", clock())
    await reply(service, "w1", "9")
    await reply(service, "t1", "3", TG)
    await worker.drain()
    throttled = SurveyService(store, {PROFILE: ProfileSettings(PROFILE, Policy(brand="Acme"))}, clock)
    clock.advance(minutes=1)
    await close(throttled, "t1", TG, conversation="t1-again")


async def test_delivered_questions_and_the_response_rate_against_them(store: Store, clock: FakeClock) -> None:
    service = service_on(store, clock)
    await world(service, store, clock)
    figures = await delivery_by_channel(store)
    wa, tg = figures[WA], figures[TG]
    assert (wa.asked, wa.sent, wa.reached, wa.failed, wa.statuses, wa.responses) == (5, 4, 2, 1, True, 1)
    assert (wa.delivered, wa.response_rate) == (2, 0.5)  # of the 2 delivered, 1 answered
    assert (tg.asked, tg.sent, tg.statuses, tg.delivered, tg.responses) == (3, 3, False, 3, 1)
    assert tg.response_rate == pytest.approx(1 / 3)
    skipped = await skipped_by_reason(store)
    assert skipped == {WA: {"outside_window": 1}, TG: {"throttled": 1}}
    assert total_skipped(skipped) == {"outside_window": 1, "throttled": 1}
    rows = await channel_rows(store, Filters(), [{"key": WA}, {"key": TG}, {"key": "slack"}])
    assert rows[0] == {"key": WA, "questions_sent": 4, "questions_delivered": 2, "questions_failed": 1,
                       "delivery_reported": True, "response_rate_delivered": 0.5,
                       "skipped": {"outside_window": 1}}  # fmt: skip
    assert rows[2]["questions_delivered"] == 0 and rows[2]["response_rate_delivered"] is None
    later = Filters(since=clock() + timedelta(days=1))  # skipped counts follow the period too
    assert await skipped_by_reason(store, later) == {} and await delivery_by_channel(store, later) == {}
    assert await delivery_by_channel(store, Filters(channel=TG)) == {TG: tg}


@pytest.fixture
async def served(store: Store, clock: FakeClock) -> AsyncIterator[tuple[TestClient, Runtime]]:
    """The app on the same database, a profile with a memory channel and an admin token."""
    cfg = {
        "database_url": store.url,
        "admin_tokens": [ADMIN],
        "profiles": {PROFILE: {"brand": "Acme", "policy": {"throttle": "0s"}, "channels": {"memory": {}}}},
    }
    runtime = Runtime(parse_config(cfg, env={}), store=store, clock=clock)
    async with TestClient(TestServer(create_app(runtime))) as client:
        yield client, runtime


async def test_the_api_dashboard_and_cli_show_delivery_per_channel_and_skips_by_reason(
    served: tuple[TestClient, Runtime], store: Store, clock: FakeClock
) -> None:
    client, runtime = served
    await world(runtime.service, store, clock)
    headers = {"Authorization": f"Bearer {ADMIN}"}
    api = await (await client.get("/api/v1/nps?by=channel", headers=headers)).json()
    by = {row["key"]: row for row in api["breakdown"]}
    assert (by[WA]["questions_delivered"], by[WA]["response_rate_delivered"], by[WA]["asked"]) == (2, 0.5, 5)
    assert (by[TG]["questions_delivered"], by[TG]["delivery_reported"], by[TG]["skipped"]) == (
        3,
        False,
        {"throttled": 1},
    )
    assert api["skipped"] == {"outside_window": 1, "throttled": 1}
    other = await (await client.get("/api/v1/nps?by=agent", headers=headers)).json()
    assert "questions_delivered" not in other["breakdown"][0]  # only the channel breakdown carries them
    dashboard = await (await client.get("/report/data.json", headers=headers)).json()
    rows = {row["key"]: row for row in dashboard["breakdowns"]["channel"]}
    assert rows[WA]["questions_delivered"] == 2 and rows[TG]["skipped"] == {"throttled": 1}
    assert dashboard["skipped"] == api["skipped"]
    report = json.loads(await run_report(store.url, profile=None, since=None, until=None, by=["channel"],
                                         bucket="week", fmt="json", minimum=30))  # fmt: skip
    assert {r["key"]: r["response_rate_delivered"] for r in report["breakdowns"]["channel"]}[WA] == 0.5
    assert report["skipped"] == api["skipped"]


async def test_the_cli_table_shows_delivered_and_skipped(store: Store, clock: FakeClock) -> None:
    from rich.console import Console

    await world(service_on(store, clock), store, clock)
    console = Console(record=True, width=240)
    await run_report(store.url, profile=None, since=None, until=None, by=["channel"], bucket="week", fmt="table",
                     minimum=30, console=console)  # fmt: skip
    out = console.export_text()
    assert "questions delivered" in out and "response rate (of delivered)" in out
    assert "skipped: outside_window 1 · throttled 1" in out
    assert "3 (sent)" in out and "50%" in out


async def test_the_api_close_takes_the_customers_last_message_time(
    served: tuple[TestClient, Runtime], store: Store, clock: FakeClock
) -> None:
    client, runtime = served
    headers = {"Authorization": f"Bearer {ADMIN}"}
    body = {"profile": PROFILE, "channel": "memory", "conversation_id": "c1", "user_id": "u1",
            "last_customer_message_at": "2026-03-02T08:30:00+01:00"}  # fmt: skip
    resp = await client.post("/api/v1/conversations/close", json=body, headers=headers)
    assert resp.status == 200, await resp.text()
    when = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
    assert await runtime.service.last_inbound(PROFILE, "memory", "u1") == when
    survey = (await resp.json())["survey"]
    assert survey["metadata"]["last_customer_message_at"] == when.isoformat()
    bad = await client.post("/api/v1/conversations/close", json=body | {"last_customer_message_at": "soon"},
                            headers=headers)  # fmt: skip
    assert bad.status == 422


def test_the_fixture_truncates_every_table_this_file_writes() -> None:
    assert {"surveys", "contacts", "outbox"} <= set(TABLES)
