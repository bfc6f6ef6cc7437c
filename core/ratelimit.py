"""Send-rate limits per platform and target, as reservations (GCRA): each send books the earliest slot that every
bucket it touches allows, so concurrent sends queue in order instead of racing into a 429.

Platforms count arrivals; a sender only knows when a message left and when its answer came back, and the arrival
is somewhere in between. So:
- slots are booked `slack` further apart than the limit (a small fraction of the interval plus a few ms);
- a send never leaves sooner than the limit plus half that slack after the one before it actually left (`hold`,
  `depart`): one that woke late, or a bunch woken together after a stalled event loop, still leaves spaced, and
  the other half of the slack absorbs ordinary differences in the time requests take to arrive;
- when the answer to the previous send under a bucket is back before the next one leaves (always so for one
  conversation, whose messages go one after another), the next one leaves at least the limit's interval after
  that answer (`answered`): the previous message arrived by then, however long it spent on the way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MARGIN = 0.03  # of the interval: one message a second per chat is booked 1.032 s apart, 97 % of the limit
JITTER = 0.002  # seconds, on top: what a fraction of a short interval is too small to cover


@dataclass(frozen=True, slots=True)
class Rate:
    """`per_second` steady rate; `burst` sends may go back to back before the steady rate applies. `exact`: the
    rate is set below the platform's own limit already (Telegram's 25/s per bot against its 30), so sends are
    spaced by its interval alone, without the slack or waiting on answers."""

    per_second: float
    burst: int = 1
    exact: bool = False

    @classmethod
    def per_minute(cls, n: float, burst: int = 1) -> Rate:
        return cls(n / 60.0, burst)

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second


Limit = tuple[str, Rate]


class RateLimiter:
    """Buckets are created on first use and keyed by strings such as "telegram:bot:123" or "slack:chan:C1"."""

    def __init__(self, margin: float = MARGIN, jitter: float = JITTER) -> None:
        self.margin, self.jitter = margin, jitter
        self._tat: dict[str, float] = {}  # theoretical arrival time of the next conforming booking
        self._left: dict[str, float] = {}  # the same over actual departures, moved on by answers
        self._last: dict[str, float] = {}  # when the latest send under each bucket left
        self._paused: dict[str, float] = {}

    def slack(self, rate: Rate) -> float:
        """How much further apart than `rate` allows slots are booked."""
        return 0.0 if rate.exact else rate.interval * self.margin + self.jitter

    def earliest(self, limits: Sequence[Limit], now: float) -> float:
        """How long a send would wait, without booking it."""
        start = now
        for key, rate in limits:
            start = max(
                start,
                self._tat.get(key, now) - self._spacing(rate) * (rate.burst - 1),
                self._left.get(key, now) - self._gap(rate) * (rate.burst - 1),
                self._paused.get(key, now),
            )
        return start - now

    def reserve(self, limits: Sequence[Limit], now: float) -> float:
        """Book one send under every limit; returns how long to wait before sending (0 when allowed now)."""
        start = now + self.earliest(limits, now)
        for key, rate in limits:
            self._tat[key] = max(self._tat.get(key, now), start) + self._spacing(rate)
        return start - now

    def book(self, limits: Sequence[Limit], now: float) -> tuple[float, list[Limit]]:
        """Like `reserve`, for a send that sleeps until its slot: a bucket with a free slot to spare before then is
        left out and returned, to be reserved once the send is due. Booked now, a bot's bucket would keep every
        other chat of the bot waiting behind a message that waits a second for its own chat."""
        start = now + self.earliest(limits, now)
        later = []
        for key, rate in limits:
            if start - self._spacing(rate) >= now + self.earliest([(key, rate)], now):
                later.append((key, rate))
            else:
                self._tat[key] = max(self._tat.get(key, now), start) + self._spacing(rate)
        return start - now, later

    def leave_now(self, limits: Sequence[Limit], now: float) -> None:
        """A send that `earliest` lets leave at once books its slot and departs in one step: what `book`, `hold`
        and `depart` would do for it with nothing to wait for (every bucket booked, none held back)."""
        for key, rate in limits:
            self._tat[key] = max(self._tat.get(key, now), now) + self._spacing(rate)
            self._left[key] = max(self._left.get(key, now), now) + self._gap(rate)
            self._last[key] = now

    def hold(self, limits: Sequence[Limit], now: float) -> float:
        """How much longer a send that reached its slot must still wait (0 when it may leave now): a send before
        it left late or was answered slowly, or the platform said "retry after" meanwhile."""
        start = now
        for key, rate in limits:
            tolerance = self._gap(rate) * (rate.burst - 1)
            start = max(start, self._left.get(key, now) - tolerance, self._paused.get(key, now))
        return start - now

    def depart(self, limits: Sequence[Limit], now: float) -> None:
        """A send leaves now: what follows it under these buckets leaves at least one gap later."""
        for key, rate in limits:
            self._left[key] = max(self._left.get(key, now), now) + self._gap(rate)
            self._last[key] = now

    def answered(self, limits: Sequence[Limit], sent_at: float, answered_at: float) -> None:
        """The platform answered the send that left at `sent_at`, so it arrived by `answered_at`: under each bucket
        where no send has left since, the next one waits at least the interval after that."""
        for key, rate in limits:
            if not rate.exact and self._last.get(key) == sent_at:
                self._left[key] = max(self._left.get(key, answered_at), answered_at + rate.interval)

    def pause(self, keys: Sequence[str], until: float) -> None:
        """The platform said "retry after": nothing under these keys goes out before `until`."""
        for key in keys:
            self._paused[key] = max(self._paused.get(key, until), until)

    def forget_idle(self, now: float, idle: float = 300.0) -> None:
        """Drop buckets untouched for a while so memory stays bounded with many chats."""
        for times in (self._tat, self._left, self._last, self._paused):
            for key in [k for k, t in times.items() if t < now - idle]:
                del times[key]

    def _spacing(self, rate: Rate) -> float:
        """How far apart slots are booked under `rate`."""
        return rate.interval + self.slack(rate)

    def _gap(self, rate: Rate) -> float:
        """The least time between two departures under `rate`: the interval and half the slack, the other half
        being room for a send to wake late without holding back the one after it."""
        return rate.interval + self.slack(rate) / 2
