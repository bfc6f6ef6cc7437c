"""One signed POST and how its answer maps onto the worker's delivery errors."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from adapters.http import retry_after, status_text
from adapters.webhook import signing
from core.delivery import DeliveryError, PermanentFailure, RetryLater

_JSON = json.JSONEncoder(ensure_ascii=False)  # json.dumps builds an encoder per call for any non-default option


def json_body(message: Any) -> bytes:
    """A message as posted: JSON in UTF-8, other scripts as they are (json.dumps(..., ensure_ascii=False))."""
    return _JSON.encode(message).encode()


async def post_signed(session: aiohttp.ClientSession, url: str, body: bytes, secret: str, msg_id: str) -> None:
    """2xx ok; 429 waits Retry-After; 410 is gone for good; a redirect is refused; other 4xx won't improve; 5xx
    and timeouts retry. Errors name the status only: the receiver's body never reaches last_error.

    The webhook-id stays the same across retries so the receiver can drop a delivery it already handled."""
    headers = {"Content-Type": "application/json", **signing.headers(secret, msg_id, body)}
    async with session.post(url, data=body, headers=headers, allow_redirects=False) as resp:
        status = resp.status
        if 200 <= status < 300:
            return
        if status == 429:
            raise RetryLater(status_text(status), retry_after(resp))
        if status == 410:
            raise PermanentFailure(status_text(status), unreachable=True, gone=True)
        if 300 <= status < 500 and status != 408:
            raise PermanentFailure(status_text(status))
        raise DeliveryError(status_text(status))
