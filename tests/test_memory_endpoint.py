"""The memory channel's trial endpoint over HTTP on both backends: off unless a profile enables it, then behind
its bearer token, with strict JSON and bounded fields; refused requests store nothing and change no survey."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bots.app import create_app
from bots.config import load_config, parse_config
from bots.runtime import Runtime
from core.store import Store
from core.store.tables import InboundKeyRow, SurveyRow

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "memory-trial-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
S, K = SurveyRow.__table__, InboundKeyRow.__table__


async def _client(store: Store, clock: Any, profiles: dict[str, Any]) -> TestClient:
    cfg = parse_config({"database_url": store.url, "profiles": profiles}, env={})
    runtime = Runtime(cfg, store=store, clock=clock)
    client = TestClient(TestServer(create_app(runtime)))
    await client.start_server()
    client.runtime = runtime  # type: ignore[attr-defined]
    return client


@pytest.fixture
async def client(store: Store, clock: Any) -> AsyncIterator[TestClient]:
    """`acme` enables the endpoint; `tapas` has a memory channel without it."""
    c = await _client(
        store,
        clock,
        {
            "acme": {
                "brand": "Acme",
                "policy": {"throttle": "0s"},
                "channels": {"memory": {"http": True, "token": TOKEN}},
            },
            "tapas": {"brand": "Tapas", "channels": {"memory": {}}},
        },
    )
    yield c
    await c.close()


async def _rows(store: Store) -> list[tuple[Any, ...]]:
    async with store.read() as conn:
        surveys = (await conn.execute(select(S.c.id, S.c.state, S.c.score, S.c.comment).order_by(S.c.id))).all()
        keys = (await conn.execute(select(func.count()).select_from(K))).scalar_one()
    return [tuple(r) for r in surveys] + [("keys", keys)]


CLOSE = {"type": "close", "conversation_id": "c1", "user_id": "u1", "agent": "ana", "id": "e1"}


async def test_memory_channel_without_http_mounts_nothing(store: Store, clock: Any) -> None:
    client = await _client(store, clock, {"acme": {"brand": "Acme", "channels": {"memory": {}}}})
    try:
        resp = await client.post("/memory/acme", json=CLOSE, headers=AUTH)
        assert resp.status == 404
        assert not any(r.resource and r.resource.canonical.startswith("/memory") for r in client.app.router.routes())
    finally:
        await client.close()
    assert await _rows(store) == [("keys", 0)]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Basic {TOKEN}",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN.upper()}",
        "Bearer wrong-token-of-some-length",
    ],
)
async def test_requests_without_the_token_get_401_and_change_nothing(
    client: TestClient, store: Store, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    resp = await client.post("/memory/acme", json=CLOSE, headers=headers)
    assert resp.status == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await resp.json()) == {"error": "missing or invalid bearer token"}
    assert await _rows(store) == [("keys", 0)]


async def test_unknown_or_not_enabled_profile_is_404(client: TestClient, store: Store) -> None:
    for profile in ("tapas", "nope", "ACME"):
        resp = await client.post(f"/memory/{profile}", json=CLOSE, headers=AUTH)
        assert resp.status == 404 and (await resp.json()) == {"error": "unknown profile"}
    assert await _rows(store) == [("keys", 0)]


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 200_000,
        b"{" * 50_000,
        b"{not json",
        b"",
        b"\xff\xfe",
        b"[]",
        b'"close"',
        b"null",
        b'{"type": "close", "conversation_id": "c1", "user_id": "u1", "agent": NaN}',
        b'{"type": "tap", "conversation_id": "c1", "user_id": "u1", "score": 1e400}',
        b'{"type": "message", "conversation_id": "c1", "user_id": "u1", "text": "\\ud800"}',
        b'{"conversation_id": "c1", "user_id": "u1"}',
        b'{"type": "fax", "conversation_id": "c1", "user_id": "u1"}',
        b'{"type": ["close"], "conversation_id": "c1", "user_id": "u1"}',
        b'{"type": null, "conversation_id": "c1", "user_id": "u1"}',
        b'{"type": "CLOSE", "conversation_id": "c1", "user_id": "u1"}',
    ],
)
async def test_malformed_bodies_get_400(client: TestClient, store: Store, body: bytes) -> None:
    resp = await client.post("/memory/acme", data=body, headers={**AUTH, "Content-Type": "application/json"})
    assert resp.status == 400, await resp.text()
    assert "error" in await resp.json()
    assert await _rows(store) == [("keys", 0)]


BASE = {"conversation_id": "c1", "user_id": "u1"}
INVALID = [
    {"type": "close", "conversation_id": 1, "user_id": "u1"},
    {"type": "close", "conversation_id": "c1", "user_id": 7},
    {"type": "close", "conversation_id": "", "user_id": "u1"},
    {"type": "close", "conversation_id": "c" * 192, "user_id": "u1"},
    {"type": "close", "conversation_id": "c1", "user_id": "u" * 129},
    {"type": "close", **BASE, "agent": "a" * 192},
    {"type": "close", **BASE, "team": ["t"]},
    {"type": "close", **BASE, "locale": "x" * 17},
    {"type": "close", **BASE, "name": "n" * 257},
    {"type": "close", **BASE, "id": ""},
    {"type": "close", **BASE, "id": "k" * 201},
    {"type": "close", **BASE, "id": 5},
    {"type": "close", **BASE, "colour": "red"},
    {"type": "close", "conversation_id": "c1"},
    {"type": "message", **BASE},
    {"type": "message", **BASE, "text": 9},
    {"type": "message", **BASE, "text": "x" * 10_001},
    {"type": "tap", **BASE},
    {"type": "tap", **BASE, "score": True},
    {"type": "tap", **BASE, "score": False},
    {"type": "tap", **BASE, "score": 11},
    {"type": "tap", **BASE, "score": -1},
    {"type": "tap", **BASE, "score": 9.0},
    {"type": "tap", **BASE, "score": "9"},
    {"type": "tap", **BASE, "score": 9, "survey_id": 0},
    {"type": "tap", **BASE, "score": 9, "survey_id": 2**63},
    {"type": "tap", **BASE, "score": 9, "survey_id": -1},
    {"type": "tap", **BASE, "score": 9, "survey_id": True},
    {"type": "tap", **BASE, "score": 9, "survey_id": "1"},
    {"type": "reopen"},
    {"type": "reopen", "conversation_id": "c1", "user_id": "u" * 129},
]


@pytest.mark.parametrize("body", INVALID, ids=[json.dumps(b)[:60] for b in INVALID])
async def test_out_of_bounds_fields_get_422_and_change_no_survey(
    client: TestClient, store: Store, body: dict[str, Any]
) -> None:
    opened = await client.post("/memory/acme", json={"type": "close", **BASE}, headers=AUTH)
    assert opened.status == 200 and (await opened.json())["state"] == "asked"
    before = await _rows(store)
    resp = await client.post("/memory/acme", json=body, headers=AUTH)
    assert resp.status == 422, await resp.text()
    assert (await resp.json())["error"]
    assert await _rows(store) == before


async def test_a_survey_over_the_endpoint_with_every_field_at_its_bound(client: TestClient, store: Store) -> None:
    long_conv, long_user = "c" * 191, "u" * 128

    async def post(body: dict[str, Any]) -> dict[str, Any]:
        resp = await client.post("/memory/acme", json=body, headers=AUTH)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    close = {"type": "close", "conversation_id": long_conv, "user_id": long_user, "locale": "x" * 16, "id": "k" * 200}
    opened = await post({**close, "agent": "a" * 191, "team": "t" * 191, "name": "n" * 256})
    assert opened["status"] == "ok" and opened["state"] == "asked"
    assert (await post(close))["status"] == "duplicate"
    tap = {"type": "tap", "conversation_id": long_conv, "user_id": long_user}
    assert (await post({**tap, "score": 3, "survey_id": 2**63 - 1}))["status"] == "no_survey"
    scored = await post({**tap, "score": 3, "survey_id": opened["survey_id"]})
    assert (scored["status"], scored["state"]) == ("ok", "scored")
    comment = {"type": "message", "conversation_id": long_conv, "user_id": long_user, "text": "x" * 10_000}
    done = await post(comment)
    assert done["state"] == "completed"
    reopen = await post({"type": "reopen", "conversation_id": long_conv, "user_id": ""})
    assert reopen["status"] == "no_survey"
    [row] = [r for r in await _rows(store) if r[0] != "keys"]
    assert row == (opened["survey_id"], "completed", 3, "x" * 10_000)


async def test_the_openapi_document_describes_the_endpoint_and_its_bounds(client: TestClient) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    op = doc["paths"]["/memory/{profile}"]["post"]
    assert op["security"] == [{"memoryBearer": []}]
    assert doc["components"]["securitySchemes"]["memoryBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "channels.memory.token",
    }
    assert {"400", "401", "404", "413", "422"} <= op["responses"].keys()
    mapping = op["requestBody"]["content"]["application/json"]["schema"]["discriminator"]["mapping"]
    assert set(mapping) == {"close", "message", "tap", "reopen"}
    schemas = doc["components"]["schemas"]
    tap = schemas["MemoryTap"]
    assert tap["properties"]["type"] == {"type": "string", "enum": ["tap"]}
    assert (tap["properties"]["score"]["minimum"], tap["properties"]["score"]["maximum"]) == (0, 10)
    assert tap["properties"]["survey_id"]["maximum"] == 2**63 - 1
    assert set(tap["required"]) == {"type", "conversation_id", "user_id", "score"}
    assert schemas["MemoryClose"]["properties"]["conversation_id"]["maxLength"] == S.c.conversation_id.type.length
    assert schemas["MemoryMessage"]["properties"]["text"]["maxLength"] == 10_000
    names = [ref.rsplit("/", 1)[1] for ref in mapping.values()]
    assert all(schemas[name]["additionalProperties"] is False for name in names)


async def test_the_example_configuration_exposes_no_trial_endpoint() -> None:
    env = {
        "TELEGRAM_TOKEN": "123456:ABCDEF-token",
        "TELEGRAM_SECRET": "s3cret",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "abcdef123",
        "WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "NPSBOT_ADMIN_TOKEN": "admin-token",
        "ACME_API_TOKEN": "acme-token",
    }
    cfg = load_config(ROOT / "config.example.yaml", env=env)
    assert cfg.server.host == "0.0.0.0"  # exposed: so nothing in it may open surveys without a token
    runtime = Runtime(cfg.model_copy(update={"database_url": "sqlite+aiosqlite:///:memory:"}))
    try:
        app = create_app(runtime)
        assert not any(r.resource and r.resource.canonical.startswith("/memory") for r in app.router.routes())
    finally:
        await runtime.stop()
    assert any("memory" in p.channels for p in cfg.profiles.values())  # the trial channel is still shown
