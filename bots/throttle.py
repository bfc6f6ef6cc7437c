"""Failed sign-ins per client address: after `limit` failures within `window` seconds the address is refused
(429) until the oldest of them leaves the window. Kept in memory, bounded in size; each web process counts its
own, which still caps guessing at `limit` tries per window per process."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from aiohttp import web
from cachetools import TTLCache

LIMIT = 5
WINDOW = 300.0
MAX_ADDRESSES = 10_000


class FailureThrottle:
    def __init__(
        self,
        limit: int = LIMIT,
        window: float = WINDOW,
        max_addresses: int = MAX_ADDRESSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        # An entry lives `window` seconds after its latest failure, when all of its failures have aged out; when
        # full, the least recently used address is forgotten first.
        self._failures: TTLCache[str, tuple[float, ...]] = TTLCache(max_addresses, window, timer=clock)

    def _recent(self, address: str) -> tuple[float, ...]:
        since = self.clock() - self.window
        return tuple(t for t in self._failures.get(address, ()) if t > since)

    def retry_after(self, address: str) -> int:
        """Seconds until `address` may try again; 0 when it may now."""
        recent = self._recent(address)
        if len(recent) < self.limit:
            return 0
        return max(1, math.ceil(recent[-self.limit] + self.window - self.clock()))

    def fail(self, address: str) -> None:
        self._failures[address] = (*self._recent(address), self.clock())[-self.limit :]

    def __len__(self) -> int:
        return len(self._failures)


THROTTLE = web.AppKey("sign_in_throttle", FailureThrottle)


def client_address(request: web.Request) -> str:
    """The peer's address. Behind a reverse proxy every client shares the proxy's address, so the proxy should
    do its own limiting (or the app should see the real peer)."""
    return request.remote or ""
