"""Which closed conversations are asked when a profile samples (`sample: 0.3`): a hash of the contact and the period,
not a random draw, so a retry or a replay of the same close makes the same choice and a contact sampled out stays
out for the rest of the period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from hashlib import blake2b

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SCALE = float(1 << 64)


def period_index(now: datetime, period: timedelta) -> int:
    """The number of whole periods from the Unix epoch to `now`: every instant of one period gives the same index."""
    if period <= timedelta(0):
        raise ValueError("a sampling period must be longer than 0s")
    return (now - _EPOCH) // period


def sampled(rate: float, profile: str, channel: str, user_id: str, period_index: int) -> bool:
    """Whether the contact is asked in this period: true for a fraction `rate` of contacts, the same answer every
    time for the same parts."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"a sample rate is between 0 and 1, not {rate}")
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    key = "\x1f".join((profile, channel, user_id, str(period_index))).encode()
    return int.from_bytes(blake2b(key, digest_size=8).digest(), "big") / _SCALE < rate
