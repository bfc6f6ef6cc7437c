"""Standard Webhooks signatures (https://www.standardwebhooks.com): `v1,` + base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}" keyed by the base64 part of a `whsec_` secret.

Written here rather than taken from the `standardwebhooks` package: its `verify` raises ValueError, binascii.Error
or UnicodeDecodeError on a malformed signature header or a non-UTF-8 body, holds one secret per object and signs
text rather than bytes, so a wrapper would be as long as the scheme. This module is checked against the
specification's reference vector and an independent signer in the tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Mapping, Sequence
from functools import cache

TOLERANCE_SECONDS = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # whole seconds; 12 digits reach the year 33658


class InvalidSignature(ValueError):
    """Why a request was refused; the message is safe to return to the caller."""


@cache
def secret_key(secret: str) -> bytes:
    """Decoded once per secret: the worker signs every message it sends with one of a few."""
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return raw.encode()  # a plain shared secret also works, as in the reference implementations


def sign(secret: str, msg_id: str, timestamp: int | str, body: bytes) -> str:
    # surrogateescape gives back the exact bytes of a header that was not valid UTF-8
    signed = f"{msg_id}.{timestamp}.".encode("utf-8", "surrogateescape") + body
    mac = hmac.digest(secret_key(secret), signed, hashlib.sha256)
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
    if not _TIMESTAMP.fullmatch(stamp):
        raise InvalidSignature("webhook-timestamp is not a Unix timestamp in seconds")
    ts = int(stamp)
    current = time.time() if now is None else now
    if abs(current - ts) > TOLERANCE_SECONDS:
        raise InvalidSignature("webhook-timestamp is outside the 5 minute tolerance")
    candidates = [p.encode("utf-8", "replace") for p in given.split(" ") if p.startswith("v1,")]
    for secret in secrets:
        try:
            expected = sign(secret, msg_id, stamp, body).encode()
        except UnicodeEncodeError:
            raise InvalidSignature("webhook-id is not valid text") from None
        if any(hmac.compare_digest(expected, c) for c in candidates):
            return msg_id
    raise InvalidSignature("no signature matches")
