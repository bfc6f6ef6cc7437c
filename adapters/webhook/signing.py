"""Standard Webhooks signatures (https://www.standardwebhooks.com): `v1,` + base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}" keyed by the base64 part of a `whsec_` secret.

Written here rather than taken from the `standardwebhooks` package: the scheme is a few lines, and that package
pulls an HTTP client and date libraries into a service that needs none of them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence

TOLERANCE_SECONDS = 300


class InvalidSignature(ValueError):
    """Why a request was refused; the message is safe to return to the caller."""


def secret_key(secret: str) -> bytes:
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return raw.encode()  # a plain shared secret also works, as in the reference implementations


def sign(secret: str, msg_id: str, timestamp: int | str, body: bytes) -> str:
    mac = hmac.new(secret_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(secret: str, msg_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    ts = int(time.time() if now is None else now)
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": sign(secret, msg_id, ts, body)}


def verify(secrets: Sequence[str], request_headers: Mapping[str, str], body: bytes, now: float | None = None) -> str:
    """Return the webhook id when any signature matches any secret within the time tolerance."""
    msg_id = request_headers.get("webhook-id", "")
    stamp = request_headers.get("webhook-timestamp", "")
    given = request_headers.get("webhook-signature", "")
    if not msg_id or not stamp or not given:
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        ts = int(stamp)
    except ValueError:
        raise InvalidSignature("webhook-timestamp is not a Unix timestamp") from None
    current = time.time() if now is None else now
    if abs(current - ts) > TOLERANCE_SECONDS:
        raise InvalidSignature("webhook-timestamp is outside the 5 minute tolerance")
    candidates = [part.strip() for part in given.split(" ") if part.strip().startswith("v1,")]
    for secret in secrets:
        expected = sign(secret, msg_id, ts, body)
        if any(hmac.compare_digest(expected, c) for c in candidates):
            return msg_id
    raise InvalidSignature("no signature matches")
