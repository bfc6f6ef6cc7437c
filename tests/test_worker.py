"""The delivery worker: retries, 429s, permanent failures, dead letters, metrics, and several workers at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from adapters.memory import MemoryChannel
from bots.metrics import Metrics
from bots.worker import Worker, WorkerSettings
from core.delivery import PermanentFailure, RetryLater
from core.profiles import ProfileSettings
from core.ratelimit import Rate
from core.service import SurveyService
from core.store import Store
from core.store import outbox as ob
from core.store.outbox import OutboxItem
from core.store.tables import ContactRow, OutboxRow, SurveyRow
from core.survey import Policy

OUT = OutboxRow.__table__


def service_for(store: Store, clock) -> SurveyService:
    return SurveyService(store, {"acme": ProfileSettings("acme", Policy(brand="Acme", throttle=timedelta(0)))}, clock)


class Scripted:
    """A sender whose answers are scripted per attempt: an exception to raise, or a ref to return."""

    def __init__(self, *script: object) -> None:
        self.script = list(script)
        self.calls: list[OutboxItem] = []

    async def send(self, item: OutboxItem) -> str | None:
        self.calls.append(item)
        answer = self.script.pop(0) if self.script else "ok"
        if isinstance(answer, BaseException):
            raise answer
        return str(answer)


async def outbox_rows(store: Store) -> list:
    async with store.read() as conn:
        return list((await conn.execute(select(OUT).order_by(OUT.c.id))).all())


async def test_transient_failures_are_retried_with_backoff(store: Store, clock) -> None:
    service = service_for(store, clock)
    sender = Scripted(ConnectionResetError("reset"), TimeoutError(), "m1")
    metrics = Metrics()
    worker = Worker(service, {("memory", "acme"): sender}, metrics=metrics)
    await MemoryChannel(service, "acme").close("c1", "u1")
    assert await worker.run_once() == 1
    row = (await outbox_rows(store))[0]
    assert row.status == "pending" and row.attempts == 1 and "ConnectionResetError" in row.last_error
    assert row.next_attempt_at > clock()
    assert await worker.run_once() == 0  # not due yet
    clock.advance(seconds=2)
    await worker.run_once()
    clock.advance(seconds=5)
    await worker.run_once()
    row = (await outbox_rows(store))[0]
    assert row.status == "sent" and row.attempts == 3 and row.ref == "m1"
    text = metrics.render().decode()
    assert 'npsbot_messages_retried_total{channel="memory",kind="ask_score"} 2.0' in text
    assert 'npsbot_messages_sent_total{channel="memory",kind="ask_score"} 1.0' in text


async def test_retry_after_is_honoured_exactly(store: Store, clock) -> None:
    service = service_for(store, clock)
    worker = Worker(service, {("memory", "acme"): Scripted(RetryLater("429", retry_after=17))})
    await MemoryChannel(service, "acme").close("c1", "u1")
    await worker.run_once()
    row = (await outbox_rows(store))[0]
    assert row.status == "pending" and row.next_attempt_at == clock() + timedelta(seconds=17)


async def test_blocked_customer_is_dead_lettered_and_marked(store: Store, clock) -> None:
    service = service_for(store, clock)
    chat = MemoryChannel(service, "acme")
    worker = Worker(service, {("memory", "acme"): Scripted(PermanentFailure("blocked", unreachable=True))})
    await chat.close("c1", "u1")
    await worker.drain()
    row = (await outbox_rows(store))[0]
    assert row.status == "dead" and row.last_error == "blocked" and row.attempts == 1
    async with store.read() as conn:
        contact = (await conn.execute(select(ContactRow.__table__))).one()
        survey = (await conn.execute(select(SurveyRow.__table__))).one()
        dead = await ob.dead_letters(conn)
    assert contact.unreachable_at is not None
    assert (survey.state, survey.skip_reason) == ("skipped", "unreachable")
    assert [d["id"] for d in dead] == [row.id]
    clock.advance(days=90)
    assert (await chat.close("c2", "u1")).survey.skip_reason == "unreachable"


async def test_gives_up_after_max_attempts(store: Store, clock) -> None:
    service = service_for(store, clock)
    worker = Worker(service, {("memory", "acme"): Scripted(*[OSError("down")] * 5)}, WorkerSettings(max_attempts=3))
    await MemoryChannel(service, "acme").close("c1", "u1")
    for _ in range(5):
        await worker.run_once()
        clock.advance(minutes=10)
    row = (await outbox_rows(store))[0]
    assert row.status == "dead" and row.attempts == 3 and "gave up after 3 attempts" in row.last_error


async def test_unknown_channel_is_dead_lettered_not_crashed(store: Store, clock) -> None:
    service = service_for(store, clock)
    await MemoryChannel(service, "acme").close("c1", "u1")
    await Worker(service, {}).drain()
    assert (await outbox_rows(store))[0].status == "dead"


async def test_long_rate_limit_wait_requeues_without_counting_an_attempt(store: Store, clock) -> None:
    service = service_for(store, clock)

    class Slow(Scripted):
        def rate_limits(self, item: OutboxItem) -> list:
            return [("group", Rate.per_minute(1))]

    sender = Slow()
    worker = Worker(service, {("memory", "acme"): sender}, WorkerSettings(max_inline_wait=1.0))
    chat = MemoryChannel(service, "acme")
    await chat.close("c1", "u1")
    await chat.close("c2", "u2")
    await worker.run_once()
    rows = await outbox_rows(store)
    assert [r.status for r in rows] == ["sent", "pending"]
    assert rows[1].attempts == 0 and rows[1].next_attempt_at > clock()
    assert len(sender.calls) == 1


async def test_two_workers_never_send_the_same_message_twice(store: Store, clock, tmp_path) -> None:
    if store.is_sqlite:
        pytest.skip("several workers need PostgreSQL (SKIP LOCKED); SQLite runs one worker")
    service = service_for(store, clock)
    chat = MemoryChannel(service, "acme")
    for i in range(120):
        await chat.close(f"c{i}", f"u{i}")
    sent: Counter[int] = Counter()

    class Recording:
        async def send(self, item: OutboxItem) -> str:
            sent[item.id] += 1
            await asyncio.sleep(0.001)
            return f"r{item.id}"

    # Each worker gets its own engine (its own connection pool), as separate processes would.
    others = [Store(store.url) for _ in range(2)]
    workers = [
        Worker(
            SurveyService(s, service.profiles, clock),
            {("memory", "acme"): Recording()},
            WorkerSettings(batch=7),
            f"w{i}",
        )
        for i, s in enumerate(others)
    ]
    try:
        await asyncio.gather(*(w.drain(max_passes=200) for w in workers))
    finally:
        for s in others:
            await s.dispose()
    assert len(sent) == 120 and set(sent.values()) == {1}
    rows = await outbox_rows(store)
    assert {r.status for r in rows} == {"sent"} and {r.leased_by for r in rows} == {"w0", "w1"}


async def test_metrics_endpoint_reports_queue_and_states(store: Store, clock) -> None:
    service = service_for(store, clock)
    chat = MemoryChannel(service, "acme")
    await chat.close("c1", "u1")
    await chat.close("c2", "u2")
    metrics = Metrics()
    clock.advance(seconds=30)
    await metrics.refresh(store, clock())
    text = metrics.render().decode()
    assert 'npsbot_surveys{state="asked"} 2.0' in text
    assert "npsbot_queue_depth 2.0" in text
    assert "npsbot_oldest_pending_seconds 30.0" in text


async def test_gone_subscription_stops_receiving_events(store: Store, clock) -> None:
    from core.profiles import Subscription

    settings = ProfileSettings(
        "acme",
        Policy(brand="Acme", throttle=timedelta(0)),
        subscriptions=(Subscription("https://gone.example/hook"), Subscription("https://ok.example/hook")),
    )
    service = SurveyService(store, {"acme": settings}, clock)
    chat = MemoryChannel(service, "acme")
    events = Scripted(PermanentFailure("410 Gone", gone=True))
    worker = Worker(service, {("memory", "acme"): chat, ("events", "*"): events})
    await chat.close("c1", "u1")
    await chat.tap("c1", "u1", 9)  # survey.responded to both subscriptions; the first answers 410
    await worker.drain()
    await chat.close("c2", "u2")
    await chat.tap("c2", "u2", 10)
    await worker.drain()
    urls = [c.target["url"] for c in events.calls]
    assert urls == ["https://gone.example/hook", "https://ok.example/hook", "https://ok.example/hook"]
    async with store.read() as conn:
        dead = await ob.dead_letters(conn)
    assert len(dead) == 1 and dead[0]["kind"] == "event" and dead[0]["last_error"] == "410 Gone"
