"""Odd input to every inbound endpoint, on SQLite and PostgreSQL: each gets a clear 4xx (or is accepted), never a
5xx, and the server keeps serving. PostgreSQL is the stricter store (column widths, no NUL, strict JSON)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.signing import slack_headers, standard_webhook_signature
from tests.conftest import TABLES
from tests.webhook_signing import signed

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HOOK_TOKEN = "chatwoot-shared-token-123"
ADMIN = {"Authorization": "Bearer hardening-admin"}
TG_SECRET = "telegram-hardening-secret"
SLACK_SECRET = "slack-hardening-secret"
DEAD_END = "http://127.0.0.1:9/"  # nothing listens: no platform call may be needed to answer
BASE = {"conversation_id": "c1", "contact_id": "u1"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def client(request: pytest.FixtureRequest, tmp_path, clock):
    url = f"sqlite:///{tmp_path / 'h.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    cfg = {
        "database_url": url,
        "admin_tokens": ["hardening-admin"],
        "profiles": {
            "acme": {
                "brand": "Acme",
                "policy": {"throttle": "0s"},
                "channels": {
                    "memory": {},
                    "webhook": {"secrets": [SECRET]},
                    "telegram": {"token": "123456:hardening", "secret_token": TG_SECRET, "api_base": DEAD_END},
                    "slack": {"bot_token": "xoxb-hardening", "signing_secret": SLACK_SECRET, "api_base": DEAD_END},
                    "chatwoot": {
                        "base_url": "http://127.0.0.1:9",
                        "account_id": 1,
                        "api_token": "cw-api-token",
                        "webhook_token": HOOK_TOKEN,
                    },
                },
            }
        },
    }
    runtime = Runtime(parse_config(cfg, env={}), clock=clock)
    await runtime.store.migrate()
    if request.param == "postgres":  # the run's database is shared by every PostgreSQL test: start empty
        async with runtime.store.transaction() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY"))
    async with TestClient(TestServer(create_app(runtime))) as c:
        yield c
    await runtime.store.dispose()


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def closed(**data: Any) -> dict:
    return {"type": "conversation.closed", "data": {**BASE, **data}}


async def webhook(client: TestClient, payload: Any) -> tuple[int, dict]:
    body, headers = signed(SECRET, payload)
    resp = await client.post("/webhook/acme/events", data=body, headers=headers)
    return resp.status, await resp.json()


RAW_400 = [
    b"[" * 5000 + b"]" * 5000,  # deeper than the stack
    json.dumps(closed(metadata={"a": nested(40)})).encode(),  # deeper than documented
    b'{"type": "conversation.closed", "data": {"conversation_id": "c", "contact_id": "u", "metadata": {"x": NaN}}}',
    b'{"type": "conversation.closed", "data": {"conversation_id": "c", "contact_id": "u", "metadata": {"x": 1e400}}}',
    b'{"type": "conversation.closed", "data": {"conversation_id": "c", "contact_id": "u", "metadata": {"x": '
    + b"9" * 5000
    + b"}}}",
    b'{"type": "conversation.closed", "data": {"conversation_id": "c\\ud800", "contact_id": "u"}}',
    b'{"type": "conversation.closed", "data": {"conversation_id": "\xff", "contact_id": "u"}}',
]


async def test_webhook_odd_bodies(client: TestClient) -> None:
    for raw in RAW_400:
        status, out = await webhook(client, raw)
        assert status == 400 and out["error"].startswith("malformed JSON"), raw[:60]
    for payload in ([], "x", 1, None, {"type": "conversation.closed", "data": []}, closed(contact_id="u" * 129)):
        status, out = await webhook(client, payload)
        assert status == 400 and "invalid event" in out["error"], payload
    status, out = await webhook(client, closed(contact_id="é" * 128, agent="🏳️‍🌈" * 30, metadata={"n": 10**30}))
    assert (status, out["status"]) == (200, "ok")  # the widest accepted values fit every column
    status, out = await webhook(client, closed(conversation_id="c2", customer_name="a\x00b", metadata={"\x00": "\x00"}))
    assert (status, out["status"]) == (200, "ok")  # NUL is dropped, not refused


async def test_chatwoot_odd_bodies(client: TestClient) -> None:
    for raw in RAW_400:
        resp = await client.post(f"/chatwoot/acme?token={HOOK_TOKEN}", data=raw)
        assert resp.status == 400, raw[:60]
    payload = {
        "event": "conversation_status_changed",
        "id": 2**63 - 1,
        "status": "resolved",
        "timestamp": "y" * 500,
        "meta": {"sender": {"id": 2**63 - 1, "name": "n" * 999}, "assignee": {"name": "a" * 999}},
    }
    resp = await client.post(f"/chatwoot/acme?token={HOOK_TOKEN}", json=payload)
    assert resp.status == 200 and (await resp.json())["status"] == "ok"  # long values are cut to fit the columns
    message = {"event": "message_created", "id": 7, "content": "nine\x00", "message_type": "incoming"}
    message |= {"sender": {"id": 2**63 - 1, "type": "contact"}, "conversation": {"id": 2**63 - 1}}
    resp = await client.post(f"/chatwoot/acme?token={HOOK_TOKEN}", json=message)
    assert resp.status == 200 and (await resp.json())["status"] == "ok"
    for ids in ({"id": "x" * 128}, {"meta": {"sender": {"id": "s" * 128}}}):  # Chatwoot's ids are integers
        resp = await client.post(f"/chatwoot/acme?token={HOOK_TOKEN}", json=payload | ids)
        assert resp.status == 400


async def test_telegram_odd_bodies(client: TestClient) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET, "Content-Type": "application/json"}
    for raw in RAW_400:
        resp = await client.post("/telegram/acme", data=raw, headers=headers)
        assert resp.status == 400 and (await resp.json())["error"].startswith("malformed JSON"), raw[:60]
    for update in ([], {"update_id": "1"}, {"update_id": 1, "message": []}, {"update_id": 2, "callback_query": 1}):
        assert (await client.post("/telegram/acme", json=update, headers=headers)).status == 400, update
    assert (await raw_post(client, b"/telegram/acme", b"X-Telegram-Bot-Api-Secret-Token: \xff\r\n"))[0] == 401


def slack_signed(body: bytes) -> dict[str, str]:
    return {**slack_headers(SLACK_SECRET, body), "Content-Type": "application/json"}


async def test_slack_odd_bodies(client: TestClient) -> None:
    for raw in [*RAW_400, b"[]", b'{"type": "event_callback", "event": []}']:
        resp = await client.post("/slack/acme/events", data=raw, headers=slack_signed(raw))
        assert 400 <= resp.status < 500, raw[:60]
    form = b"payload=%7Bnot+json"
    headers = {**slack_signed(form), "Content-Type": "application/x-www-form-urlencoded"}
    assert (await client.post("/slack/acme/events", data=form, headers=headers)).status == 400
    assert (await client.get("/healthz")).status == 200


async def test_api_odd_bodies(client: TestClient) -> None:
    for raw in RAW_400:
        resp = await client.post("/api/v1/conversations/close", data=raw, headers=ADMIN)
        assert resp.status == 400 and (await resp.json())["error"].startswith("malformed JSON"), raw[:60]
    body = {"profile": "acme", "channel": "memory", "conversation_id": "a1", "user_id": "u" * 129}
    assert (await client.post("/api/v1/conversations/close", json=body, headers=ADMIN)).status == 422
    body |= {"user_id": "é" * 128, "agent": "\U0010ffff" * 191, "metadata": {"deep": {"er": [1, {"x": None}]}}}
    resp = await client.post("/api/v1/conversations/close", json=body, headers={**ADMIN, "Idempotency-Key": "é" * 200})
    assert resp.status == 200 and (await resp.json())["survey"]["state"] == "asked"
    for sid in ("0", "-1", str(2**63), "9" * 5000, "1e3"):
        resp = await client.post(f"/api/v1/detractors/{sid}/claim", json={"by": "x"}, headers=ADMIN)
        assert resp.status == 404, sid
    resp = await client.get("/api/v1/responses?since=0001-01-01T00:00:00%2B23:59&until=9999-12-31T23:59:59-23:59")
    assert resp.status == 401
    resp = await client.get(
        "/api/v1/responses?since=0001-01-01T00:00:00%2B23:59&until=9999-12-31T23:59:59-23:59", headers=ADMIN
    )
    assert resp.status == 400 and "out of range" in (await resp.json())["error"]  # see tests/test_report_filters.py
    resp = await client.post("/api/v1/conversations/close", data=b"{" + b" " * (1024 * 1024) + b"}", headers=ADMIN)
    assert resp.status == 413
    assert (await client.get("/healthz")).status == 200


async def raw_post(client: TestClient, target: bytes, headers: bytes, body: bytes = b"{}") -> tuple[int, bytes]:
    """A request written byte by byte: header values that are not UTF-8 cannot be sent through an HTTP client."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    head = b"POST " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
    writer.write(head + headers + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    data = await reader.read()
    writer.close()
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


async def test_header_bytes_that_are_not_utf8(client: TestClient) -> None:
    assert (await raw_post(client, b"/api/v1/conversations/close", b"Authorization: Bearer \xff\xfe\r\n"))[0] == 401
    assert (await raw_post(client, b"/api/v1/conversations/close", b"Cookie: npsbot_session=\xff\r\n"))[0] == 401
    assert (await raw_post(client, b"/chatwoot/acme", b"X-Npsbot-Token: \xff\r\n"))[0] == 401
    body = json.dumps(closed(conversation_id="raw1")).encode()
    msg_id, ts = b"msg_\xff\xfe", str(int(time.time())).encode()
    good = standard_webhook_signature(SECRET, msg_id, ts.decode(), body).encode()
    headers = b"webhook-id: " + msg_id + b"\r\nwebhook-timestamp: " + ts + b"\r\nwebhook-signature: "
    assert (await raw_post(client, b"/webhook/acme/events", headers + b"v1,\xff\r\n", body))[0] == 401
    status, out = await raw_post(client, b"/webhook/acme/events", headers + good + b"\r\n", body)
    assert status == 200 and json.loads(out)["status"] == "ok"  # signed over the id's exact bytes
    status, out = await raw_post(client, b"/webhook/acme/events", headers + good + b"\r\n", body)
    assert status == 200 and json.loads(out)["status"] == "duplicate"
