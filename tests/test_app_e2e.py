"""End to end through the aiohttp app: HTTP in, the service, the outbox, the worker, the memory channel out."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from core.store.tables import SurveyRow

TRIAL = {"http": True, "token": "memory-trial-token-e2e"}  # the trial endpoint is off unless enabled
CONFIG = {
    "profiles": {
        "acme": {"brand": "Acme", "locale": "en", "channels": {"memory": TRIAL}},
        "tapas": {"brand": "Tapas", "locale": "es", "channels": {"memory": TRIAL}},
    }
}


@pytest.fixture
async def client(store, clock):
    """The app on SQLite and on PostgreSQL (the `store` fixture runs every test on both)."""
    cfg = parse_config(CONFIG | {"database_url": store.url}, env={})
    runtime = Runtime(cfg, store=store, clock=clock)
    app = create_app(runtime)
    async with TestClient(TestServer(app), headers={"Authorization": f"Bearer {TRIAL['token']}"}) as c:
        c.runtime = runtime  # type: ignore[attr-defined]
        yield c


async def test_healthz(client: TestClient) -> None:
    resp = await client.get("/healthz")
    runtime = client.runtime  # type: ignore[attr-defined]
    assert resp.status == 200 and (await resp.json()) == {"status": "ok", "database": runtime.store.dialect}


async def test_full_conversation_over_http(client: TestClient) -> None:
    runtime = client.runtime  # type: ignore[attr-defined]
    memory = runtime.channel("memory", "tapas")

    async def post(body: dict) -> dict:
        resp = await client.post("/memory/tapas", json=body)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    closed = await post({"type": "close", "conversation_id": "c1", "user_id": "u1", "agent": "marta", "id": "1"})
    assert closed["state"] == "asked"
    await runtime.worker.drain()
    assert "0" in memory.inbox("c1")[0].action.text
    assert (await post({"type": "message", "conversation_id": "c1", "user_id": "u1", "text": "ni idea", "id": "2"}))[
        "state"
    ] == "asked"
    assert (await post({"type": "message", "conversation_id": "c1", "user_id": "u1", "text": "Un ocho", "id": "3"}))[
        "state"
    ] == "scored"
    replay = await post({"type": "message", "conversation_id": "c1", "user_id": "u1", "text": "Un ocho", "id": "3"})
    assert replay["status"] == "duplicate"
    done = await post({"type": "message", "conversation_id": "c1", "user_id": "u1", "text": "Rápidos", "id": "4"})
    assert done["state"] == "completed"
    await runtime.worker.drain()
    kinds = [d.kind for d in memory.inbox("c1")]
    assert kinds == ["ask_score", "say", "mark_answered", "ask_comment", "say"]
    async with runtime.store.read() as conn:
        row = (
            await conn.execute(select(SurveyRow.__table__).where(SurveyRow.__table__.c.id == closed["survey_id"]))
        ).one()
    assert (row.score, row.category, row.comment, row.agent, row.locale) == (8, "passive", "Rápidos", "marta", "es")
    assert row.unparsed == ["ni idea"]


async def test_bad_requests_get_clear_errors(client: TestClient) -> None:
    assert (await client.post("/memory/nope", json={"type": "close"})).status == 404
    resp = await client.post("/memory/acme", data=b"{not json", headers={"Content-Type": "application/json"})
    assert resp.status == 400 and "malformed" in (await resp.json())["error"]
    resp = await client.post("/memory/acme", json={"type": "tap", "conversation_id": "c", "user_id": "u", "score": 11})
    assert resp.status == 422
    resp = await client.post("/memory/acme", data=b"x" * (1024 * 1024 + 10))
    assert resp.status == 413
    assert (await client.get("/healthz")).status == 200  # still serving


async def test_replayed_requests_and_reopen_over_http(client: TestClient) -> None:
    runtime = client.runtime  # type: ignore[attr-defined]

    async def post(body: dict) -> dict:
        resp = await client.post("/memory/acme", json=body)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    close = {"type": "close", "conversation_id": "c9", "user_id": "u9", "agent": "ana", "id": "k1"}
    first = await post(close)
    assert (await post(close)) == {"status": "duplicate", "survey_id": None, "state": None}
    reopen = {"type": "reopen", "conversation_id": "c9", "user_id": "", "id": "k2"}
    assert (await post(reopen))["state"] == "skipped"
    assert (await post(reopen))["status"] == "duplicate"
    async with runtime.store.read() as conn:
        rows = (await conn.execute(select(SurveyRow.__table__))).all()
    assert [(r.id, r.state, r.skip_reason) for r in rows] == [(first["survey_id"], "skipped", "reopened")]
    bad = {"type": "tap", "conversation_id": "c9", "user_id": "u9", "score": True}
    assert (await client.post("/memory/acme", json=bad)).status == 422
