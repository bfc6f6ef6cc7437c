"""Routing rules and SLAs through the service, on SQLite and PostgreSQL: what is decided when a response is scored
and when it completes, where alerts and events go (never twice), deadlines stored and escalated by the worker once,
across a restart and with two workers on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from adapters.memory import MemoryChannel
from bots.config import parse_config
from bots.runtime import Runtime
from core import audit
from core.escalation import escalate_due
from core.profiles import AlertTarget, ProfileSettings, Subscription
from core.routing import Rule, Then, When
from core.service import SurveyService
from core.store import Store
from core.store import sla as sla_q
from core.store.outbox import OutboxItem
from core.store.sla_tables import FollowUpSlaRow
from core.store.tables import OutboxRow, SurveyRow
from core.survey import Policy
from core.themes.matcher import ThemeMatcher
from core.types import DetractorAlert, EventNotice
from tests.conftest import FakeClock

OUT, SUR, SLA = OutboxRow.__table__, SurveyRow.__table__, FollowUpSlaRow.__table__
HOOK = "https://hooks.example/tickets"
LEADS, BILLING, HEAD = (
    AlertTarget("memory", "leads"),
    AlertTarget("memory", "billing-team"),
    AlertTarget("memory", "head"),
)
RULES = (
    Rule(
        "billing",
        When(themes=("billing",)),
        Then(
            priority="high",
            tags=("billing",),
            alert=(BILLING,),
            alert_mode="add",
            emit=("ticket.create",),
            claim_within=timedelta(hours=1),
            resolve_within=timedelta(days=1),
            escalate_to=(HEAD,),
        ),
    ),
    Rule("angry", When(score=(0, 3)), Then(priority="urgent", tags=("angry",), emit=("ticket.create",))),
    Rule("kind words", When(category=("promoter",)), Then(tags=("kudos",), stop=True)),
    Rule("never", When(category=("promoter",)), Then(tags=("unreachable",))),
)


def profiles(rules: tuple[Rule, ...] = RULES) -> dict[str, ProfileSettings]:
    events = frozenset({"survey.responded", "detractor.created", "detractor.escalated", "ticket.create"})
    return {
        "acme": ProfileSettings(
            "acme",
            Policy(brand="Acme", throttle=timedelta(0)),
            alert_targets=(LEADS,),
            subscriptions=(Subscription(HOOK, events),),
            themes=ThemeMatcher.of({"billing": {"en": ["invoice", "charge"]}, "speed": {"en": ["slow"]}}),
            rules=rules,
        )
    }


async def outbox(store: Store, after: int = 0) -> list[tuple[str, dict[str, Any], Any]]:
    """(channel, target, action) of every queued message, in order."""
    async with store.read() as conn:
        rows = (await conn.execute(select(OUT).where(OUT.c.id > after).order_by(OUT.c.id))).all()
    items = [
        OutboxItem(r.id, r.profile, r.channel, r.kind, r.survey_id, r.target, r.payload, 0, r.created_at) for r in rows
    ]
    return [(i.channel, i.target, i.decode()[1]) for i in items]


async def last_id(store: Store) -> int:
    async with store.read() as conn:
        return int((await conn.execute(select(OUT.c.id).order_by(OUT.c.id.desc()).limit(1))).scalar() or 0)


def events(sent: list[tuple[str, dict[str, Any], Any]]) -> list[EventNotice]:
    return [a for _, _, a in sent if isinstance(a, EventNotice)]


def alerts(sent: list[tuple[str, dict[str, Any], Any]]) -> list[tuple[str, DetractorAlert]]:
    return [(t["conversation_id"], a) for _, t, a in sent if isinstance(a, DetractorAlert)]


async def stored(store: Store, survey_id: int) -> tuple[Any, ...]:
    async with store.read() as conn:
        row = (await conn.execute(select(SUR).where(SUR.c.id == survey_id))).one()
    return row.priority, row.tags, row.matched_rules


async def test_scored_then_completed_each_event_and_alert_once(store: Store, clock: FakeClock) -> None:
    chat = MemoryChannel(SurveyService(store, profiles(), clock), "acme")
    sid = (await chat.close("c1", "u1", agent="ana")).survey.id
    await chat.tap("c1", "u1", 2)
    # Scored: the comment is not in, so "billing" waits; "angry" decides priority and tags at once.
    assert await stored(store, sid) == ("urgent", ["angry"], ["angry"])
    scored = await outbox(store)
    assert [e.type for e in events(scored)] == ["survey.responded", "ticket.create"]
    responded = events(scored)[0].data
    assert (responded["priority"], responded["tags"], responded["themes"]) == ("urgent", ["angry"], [])
    assert alerts(scored) == []  # a detractor is alerted once, when it completes

    mark = await last_id(store)
    clock.advance(minutes=2)
    await chat.reply("c1", "u1", "They charged me twice and the invoice is wrong")
    assert await stored(store, sid) == ("high", ["billing", "angry"], ["billing", "angry"])
    done = await outbox(store, mark)
    # ticket.create was raised when "angry" matched at scoring: not again now that "billing" matches too.
    assert [e.type for e in events(done)] == ["detractor.created"]
    created = events(done)[0].data
    assert (created["priority"], created["tags"], created["themes"]) == ("high", ["billing", "angry"], ["billing"])
    sent = alerts(done)
    assert [where for where, _ in sent] == ["leads", "billing-team"]  # add mode: besides the profile's own
    assert {(a.priority, a.tags, a.escalation) for _, a in sent} == {("high", ("billing", "angry"), None)}
    assert sent[0][1].text.endswith("\n[high] #billing #angry")
    async with store.read() as conn:
        sla = await sla_q.get(conn, sid)
    assert sla is not None and sla.claim_due_at == clock.now + timedelta(hours=1)
    assert sla.resolve_due_at == clock.now + timedelta(days=1) and sla.escalate_to == (HEAD,)


async def test_replace_mode_and_non_detractors(store: Store, clock: FakeClock) -> None:
    rules = (Rule("route", When(channel=("memory",)), Then(alert=(BILLING,))), *RULES[2:])
    chat = MemoryChannel(SurveyService(store, profiles(rules), clock), "acme")
    await chat.close("c1", "u1")
    await chat.tap("c1", "u1", 5)
    await chat.reply("c1", "u1", "meh")
    assert [where for where, _ in alerts(await outbox(store))] == ["billing-team"]  # instead of the profile's
    promoter = (await chat.close("c2", "u2")).survey.id
    await chat.tap("c2", "u2", 10)
    assert await stored(store, promoter) == ("normal", ["kudos"], ["route", "kind words"])  # "never": after a stop
    await chat.reply("c2", "u2", "great")
    async with store.read() as conn:
        assert (await conn.execute(select(SLA))).all() == []  # no SLA: the route rule set none


async def test_a_profile_without_rules_is_unchanged(store: Store, clock: FakeClock) -> None:
    chat = MemoryChannel(SurveyService(store, profiles(()), clock), "acme")
    sid = (await chat.close("c1", "u1")).survey.id
    await chat.tap("c1", "u1", 1)
    await chat.reply("c1", "u1", "the invoice")
    assert await stored(store, sid) == (None, None, None)  # never routed
    sent = await outbox(store)
    assert [where for where, _ in alerts(sent)] == ["leads"]
    assert alerts(sent)[0][1].text == "Detractor (1/10) from u1 — agent —, profile acme: the invoice"
    assert {(e.data["priority"], tuple(e.data["tags"])) for e in events(sent)} == {("normal", ())}


async def detractor(chat: MemoryChannel, clock: FakeClock, conversation: str) -> int:
    sid = (await chat.close(conversation, f"u-{conversation}", team="care")).survey.id
    await chat.tap(conversation, f"u-{conversation}", 2)
    await chat.reply(conversation, f"u-{conversation}", "wrong charge on my invoice")
    return sid


async def escalations_audited(store: Store) -> list[tuple[str, str]]:
    entries, _ = await audit.entries(store, audit.AuditQuery(action=audit.ESCALATE, limit=500))
    assert {(e["actor"], e["profile"]) for e in entries} <= {(audit.SYSTEM, "acme")}
    return [(e["target"], e["details"]["deadline"]) for e in entries]


async def test_escalations_survive_a_restart_and_happen_once(store: Store, clock: FakeClock) -> None:
    first = SurveyService(store, profiles(), clock)
    chat = MemoryChannel(first, "acme")
    sid = await detractor(chat, clock, "c1")
    on_time = await detractor(chat, clock, "c2")
    late = await detractor(chat, clock, "c3")
    from core import followup

    await followup.claim(store, on_time, "lea", clock.now + timedelta(minutes=30))
    clock.advance(minutes=59)
    assert await first.tick() == 0
    mark = await last_id(store)

    clock.advance(minutes=2)
    await followup.claim(store, late, "max", clock.now)  # after the deadline, before the worker looked
    restarted = SurveyService(store, profiles(), clock)  # a new process on the same database
    assert await restarted.tick() == 1
    assert await restarted.tick() == 0 and await SurveyService(store, profiles(), clock).tick() == 0
    sent = await outbox(store, mark)
    [(where, alert)] = alerts(sent)
    assert where == "head" and alert.escalation == "claim" and alert.survey_id == sid
    assert alert.text.startswith("⏰ Escalated: nobody claimed this detractor within 1h.\nDetractor (2/10)")
    assert (alert.claim_label, alert.resolve_label) == ("Claim", "Resolved")  # it can be acted on
    [event] = events(sent)
    assert event.type == "detractor.escalated"
    assert event.data["id"] == sid and event.data["themes"] == ["billing"]
    assert (event.data["priority"], event.data["tags"]) == ("high", ["billing", "angry"])
    assert event.data["escalation"] == {
        "kind": "claim",
        "due_at": (clock.now - timedelta(minutes=1)).isoformat(),
        "within_seconds": 3600.0,
        "targets": [{"channel": "memory", "destination": "head"}],
    }

    # A day on, nobody resolved anything: each of the three misses its resolve deadline, once.
    mark = await last_id(store)
    clock.advance(days=1)
    assert await SurveyService(store, profiles(), clock).tick() == 3
    assert await SurveyService(store, profiles(), clock).tick() == 0
    again = alerts(await outbox(store, mark))
    assert sorted((a.survey_id, a.escalation) for _, a in again) == [
        (sid, "resolve"),
        (on_time, "resolve"),
        (late, "resolve"),
    ]
    assert again[0][1].text.startswith("⏰ Escalated: this detractor was not resolved within 1d.")
    async with store.read() as conn:
        rows = (await conn.execute(select(SLA.c.survey_id, SLA.c.next_check_at))).all()
    assert {r.next_check_at for r in rows} == {None}  # nothing left to watch
    assert sorted(await escalations_audited(store)) == sorted(
        [(f"survey:{sid}", "claim"), *((f"survey:{i}", "resolve") for i in (sid, on_time, late))]
    )  # each escalation is in the audit log once, by the service itself


async def test_a_resolved_follow_up_is_never_escalated(store: Store, clock: FakeClock) -> None:
    from core import followup

    service = SurveyService(store, profiles(), clock)
    sid = await detractor(MemoryChannel(service, "acme"), clock, "c1")
    await followup.resolve(store, sid, "lea", clock.now + timedelta(minutes=5))
    mark = await last_id(store)
    clock.advance(days=2)
    assert await service.tick() == 0
    assert await outbox(store, mark) == []


async def test_two_workers_on_postgresql_escalate_each_deadline_once(pg_store: Store, pg_url: str) -> None:
    clock = FakeClock()
    chat = MemoryChannel(SurveyService(pg_store, profiles(), clock), "acme")
    ids = [await detractor(chat, clock, f"c{i}") for i in range(24)]
    mark = await last_id(pg_store)
    clock.advance(hours=2)
    other = Store(pg_url)  # a second process: its own connections
    try:
        a, b = profiles(), profiles()
        rounds = await asyncio.gather(
            *(escalate_due(s, p, clock.now, limit=5) for _ in range(4) for s, p in ((pg_store, a), (other, b)))
        )
        rounds += [await escalate_due(pg_store, a, clock.now), await escalate_due(other, b, clock.now)]
    finally:
        await other.dispose()
    escalated = [(e.survey_id, e.kind) for batch in rounds for e in batch]
    assert sorted(escalated) == sorted((i, "claim") for i in ids)
    sent = alerts(await outbox(pg_store, mark))
    assert sorted(a.survey_id for _, a in sent) == sorted(ids)
    assert len(events(await outbox(pg_store, mark))) == len(ids)
    assert sorted(await escalations_audited(pg_store)) == sorted((f"survey:{i}", "claim") for i in ids)


async def test_the_conditional_update_lets_one_of_two_readers_through(store: Store, clock: FakeClock) -> None:
    """Without row locks (SQLite, or a worker whose read raced another's commit), the mark is conditional on the
    state that was read: the second writer changes nothing and queues nothing."""
    sid = await detractor(MemoryChannel(SurveyService(store, profiles(), clock), "acme"), clock, "c1")
    clock.advance(hours=2)
    async with store.read() as conn:
        [state] = await sla_q.due(conn, clock.now, 10, ["acme"])
    assert state.survey_id == sid
    async with store.transaction() as conn:
        assert await sla_q.advance(conn, state, [], clock.now, state.resolve_due_at) is True
    async with store.transaction() as conn:
        assert await sla_q.advance(conn, state, [], clock.now, state.resolve_due_at) is False


def runtime_config(url: str) -> dict[str, Any]:
    rule = {
        "name": "claim fast",
        "when": {"category": "detractor"},
        "then": {"claim_within": "1h", "escalate_to": [{"channel": "memory", "destination": "head"}]},
    }
    profile = {
        "brand": "Acme",
        "policy": {"throttle": "0s"},
        "channels": {"memory": {}},
        "alerts": [{"channel": "memory", "destination": "leads"}],
        "rules": [rule],
    }
    return {"database_url": url, "profiles": {"acme": profile}}


async def test_a_new_runtime_on_the_same_database_escalates_what_the_old_one_left(store: Store) -> None:
    """The deadline is stored, not a timer: the process that queued the alert stops, and the worker of the one
    started after the deadline sends the escalation, once."""
    clock = FakeClock()
    first = Runtime(parse_config(runtime_config(store.url), env={}), store=Store(store.url), clock=clock)
    chat = MemoryChannel(first.service, "acme")
    await detractor(chat, clock, "c1")
    await first.worker.drain()
    memory: Any = first.channel("memory", "acme")
    assert [d.conversation_id for d in memory.delivered if d.kind == "detractor_alert"] == ["leads"]
    await first.stop()

    clock.advance(hours=2)
    second = Runtime(parse_config(runtime_config(store.url), env={}), store=Store(store.url), clock=clock)
    try:
        await second.worker.drain()
        await second.worker.drain()
        memory = second.channel("memory", "acme")
        [escalation] = [d for d in memory.delivered if d.kind == "detractor_alert"]
        assert escalation.conversation_id == "head" and escalation.action.escalation == "claim"
    finally:
        await second.stop()
