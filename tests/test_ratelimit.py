import random
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.memory import MemoryChannel
from bots.worker import Worker, WorkerSettings
from core.backoff import backoff_delay
from core.ratelimit import Rate, RateLimiter
from core.store import Store
from core.store.outbox import OutboxItem
from tests.test_worker import Scripted, service_for


def exact() -> RateLimiter:
    """Without the safety slack, so the reservation arithmetic reads in whole intervals."""
    return RateLimiter(margin=0.0, jitter=0.0)


def test_steady_rate_books_consecutive_slots() -> None:
    limiter = exact()
    chat = [("chat:1", Rate(1.0))]
    waits = [limiter.reserve(chat, now=100.0) for _ in range(4)]
    assert waits == [0.0, 1.0, 2.0, 3.0]


def test_burst_allows_back_to_back_then_steady() -> None:
    limiter = exact()
    bot = [("bot", Rate(30.0, burst=3))]
    waits = [limiter.reserve(bot, now=0.0) for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(1 / 30) and waits[4] == pytest.approx(2 / 30)


def test_every_bucket_a_send_touches_is_respected() -> None:
    limiter = exact()
    bot = ("bot", Rate(30.0))
    w = [limiter.reserve([bot, (f"chat:{i % 2}", Rate(1.0))], now=0.0) for i in range(4)]
    # chats alternate, so the per-chat rate (1/s) dominates from the third send on
    assert w[0] == 0.0 and w[1] == pytest.approx(1 / 30) and w[2] == pytest.approx(1.0) and w[3] >= 1.0


def test_no_window_of_one_second_exceeds_the_rate() -> None:
    limiter = RateLimiter()
    times = sorted(limiter.reserve([("bot", Rate(25.0))], now=0.0) for _ in range(300))
    for i, t in enumerate(times):
        in_window = sum(1 for u in times[i:] if u < t + 1.0 - 1e-9)  # tolerance for float accumulation
        assert in_window <= 25


def test_groups_per_minute() -> None:
    limiter = exact()
    group = [("group", Rate.per_minute(20))]
    waits = [limiter.reserve(group, now=0.0) for _ in range(3)]
    assert waits == pytest.approx([0.0, 3.0, 6.0])


@pytest.mark.parametrize("rate", [Rate(1.0), Rate.per_minute(20), Rate(1.0, burst=2)])
def test_slots_keep_a_slack_of_under_five_percent_at_telegrams_limits(rate: Rate) -> None:
    limiter = RateLimiter()
    waits = [limiter.reserve([("chat", rate)], now=0.0) for _ in range(rate.burst + 10)]
    steady = (waits[-1] - waits[rate.burst - 1]) / 10
    assert rate.interval < steady <= rate.interval / 0.95


def test_a_rate_set_below_the_platforms_limit_is_booked_exactly() -> None:
    limiter = RateLimiter()
    bot = [("bot", Rate(25.0, exact=True))]
    waits = [limiter.reserve(bot, now=0.0) for _ in range(3)]
    assert waits == pytest.approx([0.0, 0.04, 0.08])
    limiter.depart(bot, now=0.08)
    limiter.answered(bot, sent_at=0.08, answered_at=0.09)
    assert limiter.hold(bot, now=0.1201) == 0.0  # spaced from the departure, not from the answer


def depart_when_allowed(limiter: RateLimiter, limits: list, woke: float) -> float:
    """What the worker does once a send wakes: wait out any hold, then leave."""
    while (hold := limiter.hold(limits, woke)) > 0:
        woke += hold
    limiter.depart(limits, woke)
    return woke


@settings(max_examples=200, deadline=None)
@given(
    per_second=st.sampled_from([0.05, 1.0, 20.0, 30.0]),
    wake=st.lists(st.floats(0.0, 3.0), min_size=20, max_size=20),
    travel=st.lists(st.floats(0.0, 1.0), min_size=20, max_size=20),
)
def test_sends_woken_late_arrive_an_interval_apart(per_second: float, wake: list[float], travel: list[float]) -> None:
    """Each send wakes up to three intervals after its slot, and travels up to half the slack longer than the
    quickest: arrivals still keep the limit."""
    limiter = RateLimiter()
    rate = Rate(per_second)
    chat = [("chat", rate)]
    arrivals = []
    for w, t in zip(wake, travel, strict=True):
        slot = limiter.reserve(chat, now=0.0)
        left = depart_when_allowed(limiter, chat, slot + w * rate.interval)
        arrivals.append(left + 0.002 + t * limiter.slack(rate) / 2)
    assert all(b - a >= rate.interval - 1e-9 for a, b in pairwise(arrivals))


def test_a_bunch_woken_together_leaves_spaced() -> None:
    limiter = RateLimiter()
    chat = [("chat", Rate(10.0))]
    slots = [limiter.reserve(chat, now=0.0) for _ in range(5)]
    woke = slots[-1] + 0.5  # a stalled event loop wakes all five at once
    left = [depart_when_allowed(limiter, chat, woke) for _ in slots]
    assert left[0] == woke and all(b - a >= 0.1 for a, b in pairwise(left))


def test_a_send_that_left_late_holds_back_the_next() -> None:
    limiter = RateLimiter()
    chat = [("chat", Rate(1.0))]
    assert limiter.reserve(chat, now=0.0) == 0.0
    slot = limiter.reserve(chat, now=0.0)
    limiter.depart(chat, now=0.3)  # the first one left 0.3 s after its slot
    assert limiter.hold(chat, now=slot) == pytest.approx(0.3 - limiter.slack(Rate(1.0)) / 2)
    assert limiter.hold(chat, now=slot + 0.3) == 0.0


def test_the_next_send_leaves_an_interval_after_the_answer() -> None:
    """However long the previous message spent on the way, it had arrived when its answer came back."""
    limiter = RateLimiter()
    chat = [("chat", Rate(1.0))]
    limiter.reserve(chat, now=0.0)
    limiter.depart(chat, now=0.0)
    slot = limiter.reserve(chat, now=0.0)
    limiter.answered(chat, sent_at=0.0, answered_at=0.3)
    assert slot + limiter.hold(chat, now=slot) == pytest.approx(1.3)


def test_an_answer_after_the_next_send_left_holds_nothing_back() -> None:
    """Sends to many chats overlap under the bot's bucket: a late answer cannot hold back a send already gone."""
    limiter = RateLimiter()
    bot = [("bot", Rate(25.0))]
    limiter.depart(bot, now=0.0)
    limiter.depart(bot, now=0.05)
    before = limiter.hold(bot, now=0.1)
    limiter.answered(bot, sent_at=0.0, answered_at=0.1)
    assert limiter.hold(bot, now=0.1) == before


def test_a_send_waiting_for_its_chat_keeps_no_other_chat_of_the_bot_waiting() -> None:
    limiter = RateLimiter()
    bot = ("bot", Rate(25.0))
    chat1 = [("chat:1", Rate(1.0)), bot]
    limiter.reserve(chat1, now=0.0)
    wait, later = limiter.book(chat1, now=0.0)  # chat 1's next message is a second away: the bot is not booked yet
    assert wait > 1.0 and later == [bot]
    others = [limiter.reserve([(f"chat:{i}", Rate(1.0)), bot], now=0.0) for i in range(2, 12)]
    assert others == sorted(others) and others[-1] < 0.5  # ten other chats go at the bot's rate meanwhile
    assert limiter.reserve(later, now=wait) == 0.0  # and the bot has room when chat 1's message is due


def test_pause_after_retry_after() -> None:
    limiter = RateLimiter()
    limiter.pause(["chat:1"], until=17.0)
    assert limiter.reserve([("chat:1", Rate(1.0))], now=10.0) == pytest.approx(7.0)
    assert limiter.reserve([("chat:2", Rate(1.0))], now=10.0) == 0.0


def test_idle_buckets_are_forgotten() -> None:
    limiter = RateLimiter()
    limiter.reserve([("chat:1", Rate(1.0))], now=0.0)
    limiter.depart([("chat:1", Rate(1.0))], now=0.0)
    limiter.forget_idle(now=1000.0)
    assert limiter.reserve([("chat:1", Rate(1.0))], now=1000.0) == 0.0


def test_backoff_grows_with_jitter_and_cap() -> None:
    assert backoff_delay(1, rand=lambda: 0.0) == 0.5 and backoff_delay(1, rand=lambda: 1.0) == 1.0
    assert backoff_delay(4, rand=lambda: 1.0) == 8.0
    assert backoff_delay(30, rand=lambda: 1.0) == 600.0
    assert 300.0 <= backoff_delay(30) <= 600.0


async def test_worker_keeps_the_limit_through_late_wake_ups_and_stalled_requests(store: Store, clock) -> None:
    """On a fake clock: wake-ups come late (now and then far past the slot), requests take a varying time to arrive
    (now and then stalled for several intervals), and a strict platform counts arrivals. None is too early."""
    service = service_for(store, clock)
    rng = random.Random(7)
    rate = Rate(10.0)
    arrivals: list[float] = []

    def now() -> float:
        return clock().timestamp()

    class Platform(Scripted):
        def rate_limits(self, item: OutboxItem) -> list:
            return [("chat", rate)]

        async def send(self, item: OutboxItem) -> str | None:
            stalled = rng.random() < 0.15
            clock.advance(seconds=rng.uniform(0.2, 0.4) if stalled else rng.uniform(0.001, 0.003))  # on the way
            arrivals.append(now())
            clock.advance(seconds=rng.uniform(0.001, 0.003))  # the answer on its way back
            return await super().send(item)

    async def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds + (rng.uniform(0.05, 0.3) if rng.random() < 0.1 else rng.uniform(0, 0.002)))

    worker = Worker(service, {("memory", "acme"): Platform()}, WorkerSettings(concurrency=1), sleep=sleep)
    chat = MemoryChannel(service, "acme")
    for i in range(60):
        await chat.close(f"c{i}", f"u{i}")
    for _ in range(50):
        await worker.drain()
        clock.advance(seconds=1)
    assert len(arrivals) == 60
    gaps = [b - a for a, b in pairwise(arrivals)]
    assert min(gaps) >= rate.interval - 1e-6
