"""One signed POST and how its answer maps onto the worker's delivery errors."""

from __future__ import annotations

import aiohttp

from adapters.webhook import signing
from core.delivery import DeliveryError, PermanentFailure, RetryLater


class HttpClient:
    """One aiohttp session per channel, opened on start (or first use) and closed on stop."""

    session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def http(self) -> aiohttp.ClientSession:
        await self.start()
        assert self.session is not None
        return self.session


async def post_signed(session: aiohttp.ClientSession, url: str, body: bytes, secret: str, msg_id: str) -> None:
    """2xx ok; 429 waits Retry-After; 410 is gone for good; other 4xx won't improve; 5xx and timeouts retry.

    The webhook-id stays the same across retries so the receiver can drop a delivery it already handled."""
    headers = {"Content-Type": "application/json", **signing.headers(secret, msg_id, body)}
    async with session.post(url, data=body, headers=headers) as resp:
        text = (await resp.text())[:300]
        if 200 <= resp.status < 300:
            return
        if resp.status == 429:
            retry_after = resp.headers.get("Retry-After", "")
            raise RetryLater(f"429 from {url}", float(retry_after) if retry_after.isdigit() else None)
        if resp.status == 410:
            raise PermanentFailure(f"410 Gone from {url}", unreachable=True, gone=True)
        if 400 <= resp.status < 500 and resp.status != 408:
            raise PermanentFailure(f"{resp.status} from {url}: {text}")
        raise DeliveryError(f"{resp.status} from {url}: {text}")
