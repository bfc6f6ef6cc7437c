"""Retry spacing: exponential with jitter so a platform outage doesn't end in a synchronized stampede."""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff_delay(
    attempt: int, *, base: float = 1.0, cap: float = 600.0, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait before retry number `attempt` (1-based): base·2^(attempt−1), capped, times 0.5–1.0."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return ceiling * (0.5 + rand() / 2)
