"""The delivery worker: retries, 429s, permanent failures, dead letters, metrics, and several workers at once."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import timedelta
from itertools import pairwise

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from adapters.memory import MemoryChannel
from bots.app import create_app
from bots.config import parse_config
from bots.metrics import Metrics
from bots.runtime import Runtime
from bots.worker import Worker, WorkerSettings
from core.channel import Delivery, OutboundChannel, tag
from core.delivery import PermanentFailure, RetryLater
from core.profiles import ProfileSettings
from core.ratelimit import Rate
from core.service import SurveyService
from core.store import Store
from core.store import outbox as ob
from core.store.tables import ContactRow, OutboxRow, SurveyRow
from core.survey import Policy
from core.types import AskComment, AskScore, DetractorAlert, EventNotice, MarkAnswered, OutboundAction, Say

OUT = OutboxRow.__table__


def service_for(store: Store, clock) -> SurveyService:
    return SurveyService(store, {"acme": ProfileSettings("acme", Policy(brand="Acme", throttle=timedelta(0)))}, clock)


class Scripted(OutboundChannel):
    """A channel whose answers are scripted per attempt: an exception to raise, or a ref to return. Every typed
    send records its action and goes through `send`."""

    def __init__(self, *script: object) -> None:
        self.script = list(script)
        self.calls: list[Delivery] = []
        self.actions: list[OutboundAction] = []

    async def answer(self, delivery: Delivery, action: OutboundAction) -> str | None:
        self.actions.append(action)
        return await self.send(delivery)

    async def say(self, delivery: Delivery, action: Say) -> str | None:
        return await self.answer(delivery, action)

    async def ask_score(self, delivery: Delivery, action: AskScore) -> str | None:
        return await self.answer(delivery, action)

    async def ask_comment(self, delivery: Delivery, action: AskComment) -> str | None:
        return await self.answer(delivery, action)

    async def mark_answered(self, delivery: Delivery, action: MarkAnswered) -> str | None:
        return await self.answer(delivery, action)

    async def alert(self, delivery: Delivery, action: DetractorAlert) -> str | None:
        return await self.answer(delivery, action)

    async def notify(self, delivery: Delivery, action: EventNotice) -> str | None:
        return await self.answer(delivery, action)

    async def send(self, delivery: Delivery) -> str | None:
        self.calls.append(delivery)
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
    first_wait = (row.next_attempt_at - clock()).total_seconds()
    assert 0.5 <= first_wait <= 1.0  # 1 s times a jitter of 0.5–1.0
    assert await worker.run_once() == 0  # not due yet
    clock.advance(seconds=2)
    await worker.run_once()
    row = (await outbox_rows(store))[0]
    assert row.attempts == 2 and 1.0 <= (row.next_attempt_at - clock()).total_seconds() <= 2.0  # doubled
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
        def rate_limits(self, delivery: Delivery) -> list:
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


async def test_two_workers_never_send_the_same_message_twice(pg_store: Store, clock, tmp_path) -> None:
    service = service_for(pg_store, clock)
    chat = MemoryChannel(service, "acme")
    for i in range(120):
        await chat.close(f"c{i}", f"u{i}")
    sent: Counter[int] = Counter()

    class Recording(Scripted):
        async def send(self, delivery: Delivery) -> str:
            sent[delivery.id] += 1
            await asyncio.sleep(0.001)
            return f"r{delivery.id}"

    # Each worker gets its own engine (its own connection pool), as separate processes would.
    others = [Store(pg_store.url) for _ in range(2)]
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
    rows = await outbox_rows(pg_store)
    assert {r.status for r in rows} == {"sent"} and {r.leased_by for r in rows} == {"w0", "w1"}


def scrape(text: str) -> dict[tuple[str, frozenset], float]:
    """Parse the exposition format the way Prometheus does: (sample name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_endpoint_exposes_every_documented_metric(store: Store, clock) -> None:
    config = {
        "database_url": store.url,
        "profiles": {"acme": {"brand": "Acme", "policy": {"throttle": "0s"}, "channels": {"memory": {}}}},
    }
    runtime = Runtime(parse_config(config, env={}), store=store, clock=clock)
    runtime.worker.senders[("memory", "acme")] = Scripted(
        "ok", RetryLater("429", retry_after=30), ConnectionResetError("reset"), PermanentFailure("blocked")
    )
    chat = MemoryChannel(runtime.service, "acme")
    for i in range(5):
        await chat.close(f"c{i}", f"u{i}")
    await chat.tap("c0", "u0", 9)  # scored before its question is even sent
    runtime.worker.settings = WorkerSettings(batch=4, concurrency=1)
    assert await runtime.worker.run_once() == 4  # sent, 429, reset, dead; c4's question waits in the queue
    clock.advance(seconds=42)
    async with TestClient(TestServer(create_app(runtime))) as client:
        resp = await client.get("/metrics")
        assert resp.status == 200 and resp.content_type == "text/plain"
        m = scrape(await resp.text())
    ask = frozenset({"channel": "memory", "kind": "ask_score"}.items())
    assert m[("npsbot_messages_sent_total", ask)] == 1
    assert m[("npsbot_messages_rate_limited_total", ask)] == 1
    assert m[("npsbot_messages_retried_total", ask)] == 2  # the 429 and the reset
    assert m[("npsbot_messages_failed_total", ask)] == 2  # the reset and the permanent failure
    assert m[("npsbot_messages_dead_total", ask)] == 1
    state = {s: m[("npsbot_surveys", frozenset({"state": s}.items()))] for s in ("asked", "scored", "completed")}
    assert state == {"asked": 4, "scored": 1, "completed": 0}
    status = {s: m[("npsbot_outbox_messages", frozenset({"status": s}.items()))] for s in ("pending", "sent", "dead")}
    # waiting: the 429 and the reset (c1, c2), c4's question, and c0's answered mark and comment question
    assert status == {"pending": 5, "sent": 1, "dead": 1}
    assert m[("npsbot_queue_depth", frozenset())] == 5
    assert m[("npsbot_oldest_pending_seconds", frozenset())] == 42.0
    # Series exist for the channels that journal (tests/test_inbound_journal.py); the memory channel does not.
    assert not [labels for name, labels in m if name == "npsbot_inbound_journal"]


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
    urls = [c.conversation_id for c in events.calls]
    assert urls == ["https://gone.example/hook", "https://ok.example/hook", "https://ok.example/hook"]
    async with store.read() as conn:
        dead = await ob.dead_letters(conn)
    assert len(dead) == 1 and dead[0]["kind"] == "event_notice" and dead[0]["last_error"] == "410 Gone"


async def test_a_message_never_overtakes_an_earlier_one_in_its_conversation(store: Store, clock) -> None:
    """The question fails twice; the comment question and thanks queued behind it wait, other conversations don't."""
    service = service_for(store, clock)
    chat = MemoryChannel(service, "acme")
    order: list[tuple[str, str]] = []
    failures = {"c1": 2}

    class Flaky(Scripted):
        async def answer(self, delivery: Delivery, action: OutboundAction) -> str:
            conv, kind = delivery.conversation_id, tag(type(action))
            if isinstance(action, AskScore) and failures.get(conv, 0) > 0:
                failures[conv] -= 1
                raise ConnectionResetError("reset")
            order.append((conv, kind))
            return f"r{delivery.id}"

    worker = Worker(service, {("memory", "acme"): Flaky(), ("events", "*"): Scripted()})
    for conv in ("c1", "c2"):
        await chat.close(conv, f"u-{conv}")
        await chat.tap(conv, f"u-{conv}", 9)
        await chat.reply(conv, f"u-{conv}", "quick and kind")
    await worker.run_once()
    assert order == [("c2", "ask_score")]  # c1's question failed; nothing behind it in c1 went out
    for _ in range(10):
        await worker.drain()
        clock.advance(seconds=5)
    c1 = [kind for conv, kind in order if conv == "c1"]
    c2 = [kind for conv, kind in order if conv == "c2"]
    async with store.read() as conn:
        queued = list(
            (
                await conn.execute(select(OUT.c.kind).where(OUT.c.ordering_key == "memory:acme:c1").order_by(OUT.c.id))
            ).scalars()
        )
    assert c1 == c2 == queued and len(queued) >= 3 and queued[0] == "ask_score"


async def test_a_send_that_cannot_finish_within_the_lease_is_put_back(store: Store, clock) -> None:
    """Sends waiting behind slow ones are requeued rather than sent after their lease ran out (when another
    worker may already have claimed them)."""
    service = service_for(store, clock)
    chat = MemoryChannel(service, "acme")
    for i in range(5):
        await chat.close(f"c{i}", f"u{i}")

    class Slow(Scripted):
        async def send(self, delivery: Delivery) -> str | None:
            clock.advance(seconds=3)  # each send takes 3 s of the 10 s lease
            return await super().send(delivery)

    sender = Slow()
    settings = WorkerSettings(lease=timedelta(seconds=10), send_timeout=2.0, concurrency=1)
    worker = Worker(service, {("memory", "acme"): sender}, settings)
    assert await worker.run_once() == 5
    rows = await outbox_rows(store)
    # claimed at t=0; a send must start by t=8 (lease minus send timeout): t=0, 3, 6 go, t=9 does not
    assert [r.status for r in rows] == ["sent"] * 3 + ["pending"] * 2
    assert [r.attempts for r in rows[3:]] == [0, 0] and len(sender.calls) == 3
    await worker.drain()
    assert {r.status for r in await outbox_rows(store)} == {"sent"} and len(sender.calls) == 5


async def test_retry_after_pauses_the_target_from_the_answer_on(store: Store, clock) -> None:
    service = service_for(store, clock)
    chat = MemoryChannel(service, "acme")

    class SlowThen429(Scripted):
        def rate_limits(self, delivery: Delivery) -> list:
            return [("bot", Rate(25.0))]

        async def send(self, delivery: Delivery) -> str | None:
            clock.advance(seconds=4)  # the 429 arrives 4 s after the send began
            return await super().send(delivery)

    sender = SlowThen429(RetryLater("429", retry_after=10))
    worker = Worker(service, {("memory", "acme"): sender})
    await chat.close("c1", "u1")
    answered_at = clock() + timedelta(seconds=4)
    await worker.run_once()
    row = (await outbox_rows(store))[0]
    assert row.status == "pending" and row.next_attempt_at == answered_at + timedelta(seconds=10)
    # nothing else for the same bot goes out before 10 s after the 429
    assert worker.limiter.earliest([("bot", Rate(25.0))], clock().timestamp()) == pytest.approx(10.0)


async def test_a_limit_naming_one_bucket_pauses_only_that_bucket(store: Store, clock) -> None:
    """WhatsApp's pair limit (131056) throttles one customer: their bucket waits, the number's other sends go on."""
    service = service_for(store, clock)
    chat = MemoryChannel(service, "acme")

    class PairLimited(Scripted):
        def rate_limits(self, delivery: Delivery) -> list:
            return [("number", Rate(40.0)), (f"customer:{delivery.conversation_id}", Rate(1.0))]

    sender = PairLimited(RetryLater("131056", retry_after=6, bucket="customer:c1"))
    worker = Worker(service, {("memory", "acme"): sender})
    await chat.close("c1", "u1")
    await worker.run_once()
    now = clock().timestamp()
    assert worker.limiter.earliest([("customer:c1", Rate(1.0))], now) == pytest.approx(6.0)
    assert worker.limiter.earliest([("number", Rate(40.0))], now) < 1.0  # the number is not held for 6 s
    await chat.close("c2", "u2")
    await worker.run_once()
    assert [d.conversation_id for d in sender.calls] == ["c1", "c2"]  # c1's refused attempt, then c2 at once
    rows = {r.ordering_key: r.status for r in await outbox_rows(store)}
    assert rows == {"memory:acme:c1": "pending", "memory:acme:c2": "sent"}  # c1 waits its 6 s


async def test_two_workers_keep_each_conversation_in_order(pg_store: Store, clock) -> None:
    service = service_for(pg_store, clock)
    chat = MemoryChannel(service, "acme")
    for i in range(40):
        await chat.close(f"c{i}", f"u{i}")
        await chat.tap(f"c{i}", f"u{i}", i % 11)
        await chat.reply(f"c{i}", f"u{i}", "fine")
    sent: list[tuple[str, int]] = []
    rng = random.Random(6)

    class Flaky(Scripted):
        async def send(self, delivery: Delivery) -> str:
            await asyncio.sleep(rng.random() / 500)
            if rng.random() < 0.2:
                raise ConnectionResetError("reset")
            sent.append((delivery.conversation_id, delivery.id))
            return f"r{delivery.id}"

    others = [Store(pg_store.url) for _ in range(2)]
    workers = [
        Worker(SurveyService(s, service.profiles, clock), {("memory", "acme"): Flaky(), ("events", "*"): Flaky()},
               WorkerSettings(batch=5, max_attempts=50), f"w{i}")
        for i, s in enumerate(others)
    ]  # fmt: skip
    try:
        for _ in range(60):
            await asyncio.gather(*(w.drain(max_passes=50) for w in workers))
            clock.advance(minutes=15)  # past any backoff
    finally:
        for s in others:
            await s.dispose()
    rows = await outbox_rows(pg_store)
    assert {r.status for r in rows} == {"sent"}
    assert sorted(i for _, i in sent) == [r.id for r in rows]  # each exactly once
    by_conv: dict[str, list[int]] = {}
    for conv, item_id in sent:
        by_conv.setdefault(conv, []).append(item_id)
    customer = {k: v for k, v in by_conv.items() if k.startswith("c")}
    assert len(customer) == 40 and all(ids == sorted(ids) for ids in customer.values())


async def test_sends_woken_late_leave_spaced_as_booked(store: Store, clock) -> None:
    """A stalled event loop wakes every sleeping send at once; they must not leave in one burst."""
    service = service_for(store, clock)
    chat = MemoryChannel(service, "acme")
    departures: list[float] = []

    class Paced(Scripted):
        def rate_limits(self, delivery: Delivery) -> list:
            return [("bot", Rate(10.0))]

        async def send(self, delivery: Delivery) -> str | None:
            departures.append(clock().timestamp())
            return await super().send(delivery)

    stalled = [True]

    async def sleep(seconds: float) -> None:
        """The first wake-up comes 0.35 s late, as after a stall; later ones on time."""
        clock.advance(seconds=seconds + (0.35 if stalled.pop() else 0.0))
        stalled.append(False)
        await asyncio.sleep(0)

    worker = Worker(service, {("memory", "acme"): Paced()}, sleep=sleep)
    for i in range(6):
        await chat.close(f"c{i}", f"u{i}")
    await worker.drain()
    assert len(departures) == 6
    gaps = [b - a for a, b in pairwise(departures)]
    assert min(gaps) >= 0.1 - 1e-6  # 10 per second, as booked, even right after the late wake-up


async def test_slow_sends_hold_back_the_record_of_those_that_finished_only_briefly(store: Store, clock) -> None:
    """Sends are recorded in groups, a group once as many sends wait for it as are still going; those still out
    keep a smaller group waiting only briefly: it is recorded (its slots freed) while they are out."""
    service = service_for(store, clock)
    chat = MemoryChannel(service, "acme")
    for i in range(3):
        await chat.close(f"c{i}", f"u{i}")
    release = asyncio.Event()

    class TwoSlow(Scripted):
        async def send(self, delivery: Delivery) -> str | None:
            if len(self.calls) < 2:  # the first two answer once released
                self.calls.append(delivery)
                await release.wait()
                return f"slow-{delivery.id}"
            return await super().send(delivery)

    sender = TwoSlow()
    worker = Worker(service, {("memory", "acme"): sender}, WorkerSettings(concurrency=3))
    running = asyncio.create_task(worker.run_once())
    async with asyncio.timeout(30):
        while [r.status for r in await outbox_rows(store)].count("sent") < 1:
            await asyncio.sleep(0.01)
    assert not running.done() and len(sender.calls) == 3
    assert [r.ref for r in await outbox_rows(store) if r.status == "sent"] == ["ok"]
    release.set()
    assert await running == 3
    rows = await outbox_rows(store)
    assert [r.ref for r in rows] == [f"slow-{rows[0].id}", f"slow-{rows[1].id}", "ok"]
