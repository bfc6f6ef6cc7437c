"""Requests signed the way the platforms sign them — Slack's v0 signature, Standard Webhooks' v1 and Meta's
X-Hub-Signature-256 — written from their documentation and independently of the adapters that verify them, so a
check of an adapter's verification is not the adapter checking itself. The demo's simulated customers and the tests
both sign with these."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # Telegram signs nothing; it sends the secret back


def slack_headers(signing_secret: str, body: bytes | str, ts: int | str | None = None) -> dict[str, str]:
    """X-Slack-Request-Timestamp and X-Slack-Signature: v0= hex HMAC-SHA256(secret, "v0:{timestamp}:{body}").
    A timestamp may be any text, so tests can sign one the receiver must refuse for what it is, not for its
    signature."""
    stamp = str(int(time.time()) if ts is None else ts)
    raw = body.encode() if isinstance(body, str) else body
    digest = hmac.new(signing_secret.encode(), f"v0:{stamp}:".encode() + raw, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


def _key(secret: str) -> bytes:
    """A Standard Webhooks secret is `whsec_` and the base64 of the key."""
    return base64.b64decode(secret.split("_", 1)[1])


def standard_webhook_signature(secret: str, msg_id: str | bytes, ts: str | int, body: bytes) -> str:
    """v1, and the base64 HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}"); an id may be raw bytes, to
    sign one that is not text."""
    raw_id = msg_id.encode() if isinstance(msg_id, str) else msg_id
    digest = hmac.new(_key(secret), raw_id + f".{ts}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def standard_webhook(
    secret: str, payload: Any, *, msg_id: str | None = None, ts: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a Standard Webhooks delivery (a dict payload is sent as JSON, bytes as they are)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    stamp = str(int(time.time()) if ts is None else ts)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": standard_webhook_signature(secret, msg_id, stamp, body),
    }
    return body, headers


def standard_webhook_valid(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """Whether a delivery carries this secret's signature among the space-separated ones (what a bridge checks)."""
    expected = standard_webhook_signature(secret, headers["webhook-id"], headers["webhook-timestamp"], body)
    return any(hmac.compare_digest(expected, s) for s in headers["webhook-signature"].split(" "))


def meta_signature(app_secret: str, body: bytes | str) -> str:
    """Meta's X-Hub-Signature-256 value: `sha256=` and the hex HMAC-SHA256 of the raw body keyed by the app secret
    (developers.facebook.com/docs/graph-api/webhooks/getting-started, "Validating Payloads")."""
    raw = body.encode() if isinstance(body, str) else body
    return "sha256=" + hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()
