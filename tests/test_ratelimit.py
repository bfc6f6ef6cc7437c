import pytest

from core.backoff import backoff_delay
from core.ratelimit import Rate, RateLimiter


def test_steady_rate_books_consecutive_slots() -> None:
    limiter = RateLimiter()
    chat = [("chat:1", Rate(1.0))]
    waits = [limiter.reserve(chat, now=100.0) for _ in range(4)]
    assert waits == [0.0, 1.0, 2.0, 3.0]


def test_burst_allows_back_to_back_then_steady() -> None:
    limiter = RateLimiter()
    bot = [("bot", Rate(30.0, burst=3))]
    waits = [limiter.reserve(bot, now=0.0) for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(1 / 30) and waits[4] == pytest.approx(2 / 30)


def test_every_bucket_a_send_touches_is_respected() -> None:
    limiter = RateLimiter()
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
    limiter = RateLimiter()
    group = [("group", Rate.per_minute(20))]
    waits = [limiter.reserve(group, now=0.0) for _ in range(3)]
    assert waits == pytest.approx([0.0, 3.0, 6.0])


def test_pause_after_retry_after() -> None:
    limiter = RateLimiter()
    limiter.pause(["chat:1"], until=17.0)
    assert limiter.reserve([("chat:1", Rate(1.0))], now=10.0) == pytest.approx(7.0)
    assert limiter.reserve([("chat:2", Rate(1.0))], now=10.0) == 0.0


def test_idle_buckets_are_forgotten() -> None:
    limiter = RateLimiter()
    limiter.reserve([("chat:1", Rate(1.0))], now=0.0)
    limiter.forget_idle(now=1000.0)
    assert limiter.reserve([("chat:1", Rate(1.0))], now=1000.0) == 0.0


def test_backoff_grows_with_jitter_and_cap() -> None:
    assert backoff_delay(1, rand=lambda: 0.0) == 0.5 and backoff_delay(1, rand=lambda: 1.0) == 1.0
    assert backoff_delay(4, rand=lambda: 1.0) == 8.0
    assert backoff_delay(30, rand=lambda: 1.0) == 600.0
    assert 300.0 <= backoff_delay(30) <= 600.0
