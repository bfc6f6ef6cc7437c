"""Chatwoot: its webhook payloads (shapes from Chatwoot's docs) in, its messages API out (a fake on 127.0.0.1)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.bridge import FakeBridge

TOKEN = "chatwoot-shared-token-123"
ADMIN = "admin-token-for-chatwoot-tests"
MESSAGES = "/api/v1/accounts/1/conversations/10/messages"


@pytest.fixture
async def chatwoot():
    b = await FakeBridge().start()
    yield b
    await b.close()


@pytest.fixture
async def client(tmp_path, chatwoot: FakeBridge, clock):
    base = chatwoot.url("/").rstrip("/")
    cfg = {
        "database_url": f"sqlite:///{tmp_path / 'cw.db'}",
        "admin_tokens": [ADMIN],
        "profiles": {
            "desk": {
                "brand": "Acme",
                "policy": {"throttle": "0s"},
                "channels": {
                    "chatwoot": {"base_url": base, "account_id": 1, "api_token": "cw-api-token", "webhook_token": TOKEN}
                },
                "alerts": [{"channel": "chatwoot", "destination": "{conversation_id}"}],
            }
        },
    }
    runtime = Runtime(parse_config(cfg, env={}), clock=clock)
    await runtime.store.migrate()
    async with TestClient(TestServer(create_app(runtime))) as c:
        c.runtime = runtime  # type: ignore[attr-defined]
        yield c


def status_changed(status: str, timestamp: int = 1627063369) -> dict[str, Any]:
    return {
        "additional_attributes": {"browser": {"browser_name": "Chrome"}, "referer": "http://localhost:3000"},
        "can_reply": True,
        "channel": "Channel::WebWidget",
        "id": 10,
        "inbox_id": 1,
        "contact_inbox": {"id": 12, "contact_id": 12, "inbox_id": 1, "source_id": "405f1d30"},
        "messages": [],
        "meta": {
            "sender": {"email": "jane@acme.inc", "id": 12, "name": "jane", "type": "contact"},
            "assignee": {"id": 1, "name": "John", "available_name": "John", "type": "user"},
        },
        "status": status,
        "unread_count": 0,
        "timestamp": timestamp,
        "event": "conversation_status_changed",
    }


def message_created(msg_id: int, content: str, message_type: str = "incoming") -> dict[str, Any]:
    sender = {"id": 12, "name": "jane", "avatar": "", "type": "contact" if message_type == "incoming" else "user"}
    return {
        "id": msg_id,
        "content": content,
        "created_at": "2021-07-23T18:02:48.000Z",
        "message_type": message_type,
        "content_type": "text",
        "private": False,
        "content_attributes": {},
        "sender": sender,
        "inbox": {"id": 1, "name": "Acme Support"},
        "conversation": {"id": 10, "inbox_id": 1, "status": "resolved", "meta": {"sender": sender}},
        "account": {"id": 1, "name": "Acme Inc"},
        "event": "message_created",
    }


async def hook(client: TestClient, payload: Any, token: str | None = TOKEN) -> tuple[int, Any]:
    url = "/chatwoot/desk" + (f"?token={token}" if token else "")
    resp = await client.post(url, json=payload)
    return resp.status, await resp.json()


async def test_resolved_conversation_is_surveyed_in_chatwoot(client: TestClient, chatwoot: FakeBridge) -> None:
    status, out = await hook(client, status_changed("resolved"))
    assert status == 200 and out["status"] == "ok"
    assert (await hook(client, status_changed("resolved")))[1]["status"] == "duplicate"  # Chatwoot retried
    await client.runtime.worker.drain()  # type: ignore[attr-defined]
    [question] = chatwoot.at(MESSAGES)
    body = question.json
    assert question.headers["api_access_token"] == "cw-api-token"
    assert body["content_type"] == "input_select" and "Acme" in body["content"]
    items = body["content_attributes"]["items"]
    assert [i["value"] for i in items] == [str(n) for n in range(11)] and items[10]["title"] == "10 · Very likely"

    await hook(client, message_created(201, "thanks!", "outgoing"))  # our own message echoed back: ignored
    await hook(client, message_created(202, "0 · Not likely"))  # the customer picked an option
    await hook(client, message_created(203, "Waited a week"))
    await client.runtime.worker.drain()  # type: ignore[attr-defined]
    public = [r.json["content"] for r in chatwoot.at(MESSAGES) if not r.json.get("private")]
    assert public[1:] == ["We're sorry to hear that (0). What went wrong?", "Thank you for your feedback!"]
    [alert] = [r.json for r in chatwoot.at(MESSAGES) if r.json.get("private")]
    assert alert["private"] is True and "Detractor (0/10) from jane" in alert["content"] and "John" in alert["content"]
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        from sqlalchemy import select

        from core.store.tables import SurveyRow

        row = (await conn.execute(select(SurveyRow.__table__))).one()
    assert (row.score, row.comment, row.agent, row.customer_name) == (0, "Waited a week", "John", "jane")


async def test_reopened_conversation_withdraws_the_survey(client: TestClient) -> None:
    await hook(client, status_changed("resolved"))
    status, out = await hook(client, status_changed("open", timestamp=1627063999))
    assert status == 200 and out["status"] == "ok"
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        from sqlalchemy import select

        from core.store.tables import SurveyRow

        row = (await conn.execute(select(SurveyRow.__table__))).one()
    assert (row.state, row.skip_reason) == ("skipped", "reopened")


async def test_token_and_body_are_checked(client: TestClient) -> None:
    assert (await hook(client, status_changed("resolved"), token=None))[0] == 401
    assert (await hook(client, status_changed("resolved"), token="wrong"))[0] == 401
    resp = await client.post(
        f"/chatwoot/desk?token={TOKEN}", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert resp.status == 400
    assert (await hook(client, {"event": "contact_created", "id": 3}))[1] == {"status": "ignored"}
    assert (await client.post(f"/chatwoot/other?token={TOKEN}", json={})).status == 404


async def test_payloads_not_shaped_like_chatwoot_get_a_400(client: TestClient) -> None:
    good = status_changed("resolved")
    for bad in (
        {**good, "meta": "x"},
        {**good, "meta": {"sender": [1]}},
        {**good, "meta": {**good["meta"], "assignee": "John"}},
        {**good, "id": {"a": 1}},
        {**good, "id": True},
        {**good, "id": 2**64},
        {**good, "id": "x" * 129},
        {**message_created(300, "9"), "sender": "jane"},
        {**message_created(301, "9"), "conversation": [10]},
        {**message_created(302, "9"), "content": {"text": "9"}},
    ):
        status, out = await hook(client, bad)
        assert status == 400 and out["error"].startswith("not a Chatwoot"), bad
    for body in (b"[]", b'"x"', b'{"event": "message_created", "content": "\\ud800"}', b"[" * 5000 + b"]" * 5000):
        resp = await client.post(f"/chatwoot/desk?token={TOKEN}", data=body)
        assert resp.status == 400, body[:40]
    resp = await client.post(f"/chatwoot/desk?token={TOKEN}", data=b"{" + b" " * (1024 * 1024) + b"}")
    assert resp.status == 413
    assert (await hook(client, {"event": 1}))[1] == {"status": "ignored"}  # not an event we act on
    assert (await hook(client, good))[1]["status"] == "ok"  # still serving


async def test_long_names_are_cut_to_fit_and_the_survey_still_starts(client: TestClient) -> None:
    payload = status_changed("resolved")
    payload["meta"]["assignee"]["name"] = "A" * 500
    payload["meta"]["sender"]["name"] = "J" * 500
    payload["additional_attributes"]["browser_language"] = "x" * 40  # not a locale: the profile's default is used
    status, out = await hook(client, payload)
    assert (status, out["status"]) == (200, "ok")
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        from sqlalchemy import select

        from core.store.tables import SurveyRow

        row = (await conn.execute(select(SurveyRow.__table__))).one()
    assert (row.agent, row.customer_name, row.locale) == ("A" * 191, "J" * 256, "en")


async def surveys_and_keys(client: TestClient) -> tuple[int, int]:
    from sqlalchemy import func, select

    from core.store.tables import InboundKeyRow, SurveyRow

    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        surveys = (await conn.execute(select(func.count()).select_from(SurveyRow.__table__))).scalar_one()
        keys = (await conn.execute(select(func.count()).select_from(InboundKeyRow.__table__))).scalar_one()
    return surveys, keys


TRAVERSAL = "7/../../../../2/conversations/99#"


async def test_ids_that_are_not_positive_integers_are_refused_and_store_nothing(
    client: TestClient, chatwoot: FakeBridge
) -> None:
    """A conversation id goes into Chatwoot's API URL, with the API token: only Chatwoot's own integer ids pass."""
    good = status_changed("resolved")
    for bad_id in (TRAVERSAL, "10", "10#", 0, -3, 1.5, None):
        status, out = await hook(client, {**good, "id": bad_id})
        assert status == 400 and out["error"].startswith("not a Chatwoot"), bad_id
    sender = {**good["meta"]["sender"], "id": "12/../1"}
    assert (await hook(client, {**good, "meta": {**good["meta"], "sender": sender}}))[0] == 400
    reply = message_created(400, "9")
    assert (await hook(client, {**reply, "conversation": {"id": TRAVERSAL}}))[0] == 400
    assert (await hook(client, {**reply, "id": "400"}))[0] == 400
    assert await surveys_and_keys(client) == (0, 0)
    await client.runtime.worker.drain()  # type: ignore[attr-defined]
    assert chatwoot.received == []


@pytest.mark.parametrize("conversation", [TRAVERSAL, "0", "-1", "1e3", "10/../11", "", "99999999999999999999"])
async def test_a_queued_id_that_is_not_a_positive_integer_is_a_dead_letter(
    client: TestClient, chatwoot: FakeBridge, conversation: str
) -> None:
    """Defence in depth: a row queued before ids were checked on the way in makes no request either."""
    from core.store import outbox
    from core.store.outbox import NewMessage
    from core.types import Say

    runtime = client.runtime  # type: ignore[attr-defined]
    target = {"conversation_id": conversation, "user_id": "12", "thread": None, "locale": "en"}
    message = NewMessage("desk", "chatwoot", f"chatwoot:desk:{conversation}", target, Say("hi", purpose="thanks"))
    async with runtime.store.transaction() as conn:
        await outbox.enqueue(conn, [message], runtime.service.clock())
    await runtime.worker.drain()
    resp = await client.get("/api/v1/dead-letters", headers={"Authorization": f"Bearer {ADMIN}"})
    [dead] = (await resp.json())["items"]
    assert dead["last_error"] == "Chatwoot conversation id is not a positive integer; nothing sent"
    assert chatwoot.received == []
