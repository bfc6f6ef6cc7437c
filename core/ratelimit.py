"""Send-rate limits per platform and target, as reservations (GCRA): each send books the earliest slot that every
bucket it touches allows, so concurrent sends queue in order instead of racing into a 429."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rate:
    """`per_second` steady rate; `burst` sends may go back to back before the steady rate applies."""

    per_second: float
    burst: int = 1

    @classmethod
    def per_minute(cls, n: float, burst: int = 1) -> Rate:
        return cls(n / 60.0, burst)

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second


Limit = tuple[str, Rate]


class RateLimiter:
    """Buckets are created on first use and keyed by strings such as "telegram:bot:123" or "slack:chan:C1"."""

    def __init__(self) -> None:
        self._tat: dict[str, float] = {}  # theoretical arrival time of the next conforming send
        self._paused: dict[str, float] = {}

    def earliest(self, limits: Sequence[Limit], now: float) -> float:
        """How long a send would wait, without booking it."""
        start = now
        for key, rate in limits:
            tolerance = rate.interval * (rate.burst - 1)
            start = max(start, self._tat.get(key, now) - tolerance, self._paused.get(key, now))
        return start - now

    def reserve(self, limits: Sequence[Limit], now: float) -> float:
        """Book one send under every limit; returns how long to wait before sending (0 when allowed now)."""
        start = now + self.earliest(limits, now)
        for key, rate in limits:
            self._tat[key] = max(self._tat.get(key, now), start) + rate.interval
        return start - now

    def pause(self, keys: Sequence[str], until: float) -> None:
        """The platform said "retry after": nothing under these keys goes out before `until`."""
        for key in keys:
            self._paused[key] = max(self._paused.get(key, until), until)

    def forget_idle(self, now: float, idle: float = 300.0) -> None:
        """Drop buckets untouched for a while so memory stays bounded with many chats."""
        for key in [k for k, t in self._tat.items() if t < now - idle]:
            del self._tat[key]
        for key in [k for k, t in self._paused.items() if t < now - idle]:
            del self._paused[key]
