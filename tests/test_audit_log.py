"""The audit log: claims and resolutions from every path (the API, a Telegram button, the follow-up code any
channel calls) with who did them; every use of a token on a state-changing API call, named by a hash prefix, with
the route's template and the answer's status; configuration loads; read by admins only, filtered and paged — and
never a token, a message or a customer's id. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient

from adapters.telegram.keyboards import FollowUpAction
from bots.config import parse_config
from bots.serve import serve
from core import audit, followup
from core.store import Store, audit_log
from tests import privacy_world as w
from tests import telegram_updates as tg

fake = pytest.fixture(w.fake_telegram)
bridge = pytest.fixture(w.fake_bridge)


client = pytest.fixture(w.populated_client)


async def entries(client: TestClient, query: str = "") -> list[dict]:
    resp = await client.get(f"/api/v1/audit{query}", headers=w.bearer(w.ADMIN))
    assert resp.status == 200, await resp.text()
    return (await resp.json())["items"]


def prefix(token: str) -> str:
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:12]


async def test_a_claim_through_the_api_names_who_and_which_token(client: TestClient) -> None:
    [claim] = await entries(client, "?action=claim")  # made by populate() with the shop token
    assert (claim["actor"], claim["profile"], claim["target"]) == (w.CLAIMER, "shop", f"survey:{client.detractor}")
    assert claim["details"] == {"status": "claimed", "changed": True}
    uses = await entries(client, "?action=token_use")
    paths = [(u["actor"], u["details"]["method"], u["details"]["path"], u["details"]["status"]) for u in uses]
    assert (prefix(w.SHOP), "POST", "/api/v1/detractors/{id}/{action}", 200) in paths
    assert (prefix(w.ADMIN), "POST", "/api/v1/conversations/close", 200) in paths
    assert all(u["details"]["method"] != "GET" for u in uses)  # reads are not token uses that change anything


async def test_a_resolution_by_telegram_button_and_a_second_claim(client: TestClient, fake, clock) -> None:
    [alert] = fake.of("sendMessage", w.SUPPORT)
    data = FollowUpAction(s=client.detractor, a="r").pack()
    clock.advance(minutes=5)
    await w.telegram(client, tg.callback_update(w.AGENT, w.SUPPORT, alert.result["message_id"], data))
    [resolved] = await entries(client, "?action=resolve")
    assert (resolved["actor"], resolved["profile"], resolved["details"]) == (
        "Agnes Tomer", "shop", {"status": "resolved", "changed": True},
    )  # fmt: skip
    again = await followup.claim(client.runtime.store, client.detractor, "someone else", clock.now)
    assert again.claimed_by == w.CLAIMER  # the first claim stands, and the try is on record
    latest = (await entries(client, "?action=claim"))[0]
    assert (latest["actor"], latest["details"]) == ("someone else", {"status": "resolved", "changed": False})


async def test_refused_calls_are_recorded_with_their_status(client: TestClient) -> None:
    body = {"profile": "shop", "channel": "telegram", "conversation_id": "1", "user_id": "1"}
    assert (await client.post("/api/v1/conversations/close", json=body, headers=w.bearer(w.OTHER))).status == 403
    assert (await client.post("/api/v1/conversations/close", json=body)).status == 401
    assert (await client.post("/api/v1/conversations/close", json=body, headers=w.bearer("nope"))).status == 401
    uses = await entries(client, "?action=token_use")
    refused = [u for u in uses if u["details"]["status"] != 200]
    assert [(u["actor"], u["profile"], u["details"]["status"]) for u in refused] == [(prefix(w.OTHER), "other", 403)]


async def test_no_token_message_or_customer_id_in_the_log(client: TestClient, store: Store) -> None:
    await client.delete(f"/api/v1/contacts/telegram/{w.CONTROL}", headers=w.bearer(w.SHOP))
    await client.get(f"/api/v1/contacts/telegram/{w.PERSON}", headers=w.bearer(w.SHOP))
    rows = str((await w.dump(store))["audit_log"])
    for secret in (w.ADMIN, w.SHOP, w.OTHER, w.COMMENT, w.CONTROL_COMMENT, str(w.PERSON), str(w.CONTROL), w.NAME):
        assert secret not in rows
    actions = {e["action"] for e in await entries(client)}
    assert {"claim", "erase", "export", "token_use"} <= actions


async def test_admins_only(client: TestClient) -> None:
    assert (await client.get("/api/v1/audit", headers=w.bearer(w.SHOP))).status == 403
    assert (await client.get("/api/v1/audit")).status == 401


async def test_filters_and_pages(client: TestClient, clock) -> None:
    store = client.runtime.store
    start = clock.now
    for i in range(5):
        await audit.record(
            store, actor=f"a{i}", action=audit.EXPORT, profile="other", target=None, at=start + timedelta(days=i)
        )
    everything = await entries(client, "?limit=500")
    assert [e["id"] for e in everything] == sorted((e["id"] for e in everything), reverse=True)
    page = await client.get("/api/v1/audit?profile=other&action=export&limit=2", headers=w.bearer(w.ADMIN))
    body = await page.json()
    assert [e["actor"] for e in body["items"]] == ["a4", "a3"]
    rest = await entries(client, f"?profile=other&action=export&limit=2&cursor={body['next_cursor']}")
    assert [e["actor"] for e in rest] == ["a2", "a1"]
    since, until = (start + timedelta(days=1)).isoformat(), (start + timedelta(days=3)).isoformat()
    window = await entries(
        client, f"?profile=other&since={since.replace('+', '%2B')}&until={until.replace('+', '%2B')}"
    )
    assert [e["actor"] for e in window] == ["a2", "a1"]
    for query, status in (("?since=yesterday", 400), ("?action=delete", 422), ("?limit=0", 422), ("?foo=1", 422)):
        assert (await client.get(f"/api/v1/audit{query}", headers=w.bearer(w.ADMIN))).status == status


def test_an_unknown_action_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.entry(actor="x", action="delete", profile=None, target=None, at=None)  # type: ignore[arg-type]


async def test_details_hold_short_plain_values_only() -> None:
    row = audit.entry(actor="x" * 500, action=audit.ERASE, profile=None, target=None, at=None,  # type: ignore[arg-type]
                      details={"text": "y" * 5000, "nested": {"n": [1, 2, object()]}})  # fmt: skip
    assert len(row["actor"]) == audit.ACTOR and len(row["details"]["text"]) == audit.MAX_VALUE
    assert isinstance(row["details"]["nested"]["n"][2], str)


async def test_each_start_records_the_configuration_it_loaded(store: Store, tmp_path) -> None:
    cfg = {
        "database_url": store.url,
        "server": {"port": 0},
        "admin_tokens": ["start-admin-token-0001"],
        "profiles": {"acme": {"brand": "Acme", "api_tokens": ["start-acme-token-1"], "channels": {"memory": {}}}},
    }
    stop = asyncio.Event()
    stop.set()  # start, record, stop
    await serve(parse_config(cfg, env={}), role="web", stop=stop)
    async with store.read() as conn:
        [loaded] = await audit_log.entries(conn, action=audit.CONFIG_LOADED)
    assert loaded["actor"] == "npsbot" and loaded["details"]["role"] == "web"
    assert loaded["details"]["profiles"] == {"acme": ["memory"]}
    assert "token" not in str(loaded)
