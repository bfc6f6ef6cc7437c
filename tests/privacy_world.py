"""One person made known to npsbot along every path that keeps something of them — an API close with their name
and helpdesk metadata, a Telegram private chat (whose id is their user id) with a score and a comment, a detractor
alert sent to the support chat, event notices sent to a subscriber, a second survey whose question is still queued,
a raw request left in the inbound journal, a dedup key holding their id, a claim — beside a second customer who
must be left as they were. Shared by the erasure and export tests; the tables are read by reflection, so tables
added later are read too."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import MetaData, select

from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.bridge import FakeBridge
from bots.sandbox.telegram_api import FakeTelegram
from core.store import Store, journal
from tests import telegram_updates as tg
from tests.telegram_app import FAST, SECRET, SUPPORT, TOKEN

ADMIN, SHOP, OTHER = "privacy-admin-token-0001", "privacy-shop-token-0001", "privacy-other-token-0001"
PERSON = 5550123987  # a Telegram user; their private chat has the same id
FIRST, LAST = "Xanthippe", "Quillfeather"
NAME = f"{FIRST} {LAST}"
COMMENT = "The zorblax parcel arrived crushed"
EMAIL = "xanthippe.q@example.org"
NEEDLES = (str(PERSON), FIRST, LAST, "zorblax", EMAIL)
CONTROL = 4440001  # another customer, who must keep everything
CONTROL_COMMENT = "Quick and friendly help from Marta"
AGENT = tg.user(7, "Agnes", "en")
CLAIMER = "Ottilie Brandvold"  # the support agent who claims the detractor: not the customer's data


def config(url: str, fake: FakeTelegram, bridge: FakeBridge, **shop: Any) -> dict[str, Any]:
    return {
        "database_url": url,
        "admin_tokens": [ADMIN],
        "privacy": {"hash_key": "privacy-test-hash-key-0123456789"},
        "profiles": {
            "shop": {
                "brand": "Shop",
                "policy": {"throttle": "0s", "comment_window": "1h"},
                "api_tokens": [SHOP],
                "link_template": "https://desk.example.com/c/{conversation_id}",
                "channels": {
                    "telegram": {
                        "token": TOKEN,
                        "secret_token": SECRET,
                        "api_base": fake.base,
                        "agents": [AGENT["id"]],
                        "support_chat_id": SUPPORT,
                        **FAST,
                    },
                },
                "alerts": [{"channel": "telegram", "destination": str(SUPPORT)}],
                "subscriptions": [{"url": bridge.url("/events"), "secret": "whsec-privacy-events-0001"}],
                **shop,
            },
            "other": {"brand": "Other", "api_tokens": [OTHER], "channels": {"memory": {}}},
        },
    }


async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    """Fixture bodies: `fake = pytest.fixture(fake_telegram)`, `bridge = pytest.fixture(fake_bridge)`."""
    f = await FakeTelegram().start()
    yield f
    await f.close()


async def fake_bridge() -> AsyncIterator[FakeBridge]:
    b = await FakeBridge().start()
    yield b
    await b.close()


@asynccontextmanager
async def served(
    store: Store, clock: Any, fake: FakeTelegram, bridge: FakeBridge, **shop: Any
) -> AsyncIterator[TestClient]:
    """The app over `store`; `shop` adds keys to the shop profile."""
    runtime = Runtime(parse_config(config(store.url, fake, bridge, **shop), env={}), store=store, clock=clock)
    async with TestClient(TestServer(create_app(runtime))) as client:
        client.runtime = runtime  # type: ignore[attr-defined]
        yield client


async def populated_client(
    store: Store, clock: Any, fake: FakeTelegram, bridge: FakeBridge
) -> AsyncIterator[TestClient]:
    """Fixture body, `client = pytest.fixture(populated_client)`: the app, populated; `client.detractor` is the
    person's detractor survey id."""
    async with served(store, clock, fake, bridge) as client:
        client.detractor = await populate(client, clock)  # type: ignore[attr-defined]
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def person(uid: int, first: str, last: str) -> dict[str, Any]:
    return {**tg.user(uid, first, "en"), "last_name": last, "username": f"u{uid}"}


async def telegram(client: TestClient, update: dict[str, Any]) -> None:
    resp = await client.post("/telegram/shop", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert resp.status == 200, await resp.text()


async def close(client: TestClient, uid: int, name: str, *, case: str | None = None, key: str | None = None) -> dict:
    body = {
        "profile": "shop",
        "channel": "telegram",
        "conversation_id": str(uid),
        "user_id": str(uid),
        "customer_name": name,
        "agent": "Marta",
        "team": "care",
        "case_id": case,
        "metadata": {"email": EMAIL if uid == PERSON else "someone@example.net", "plan": "pro"},
    }
    headers = bearer(ADMIN) | ({"Idempotency-Key": key} if key else {})
    resp = await client.post("/api/v1/conversations/close", json=body, headers=headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def deliver(client: TestClient) -> None:
    await client.runtime.worker.drain()  # type: ignore[attr-defined]


async def populate(client: TestClient, clock: Any, comment: str = COMMENT) -> int:
    """The person and the control customer, as described above; returns the person's detractor survey id."""
    customer = person(PERSON, FIRST, LAST)
    first = await close(client, PERSON, NAME, key=f"close-{PERSON}-1")
    await deliver(client)  # the question goes to their private chat
    clock.advance(minutes=2)
    await telegram(client, tg.text_update(PERSON, customer, "3"))
    await telegram(client, tg.text_update(PERSON, customer, comment))
    await deliver(client)  # the thanks, the detractor alert to the support chat, the event notices
    other = person(CONTROL, "Bruno", "Okafor")
    await close(client, CONTROL, "Bruno Okafor")
    await deliver(client)
    await telegram(client, tg.text_update(CONTROL, other, "9"))
    await telegram(client, tg.text_update(CONTROL, other, CONTROL_COMMENT))
    await deliver(client)
    claimed = await client.post(
        f"/api/v1/detractors/{first['survey']['id']}/claim", json={"by": CLAIMER}, headers=bearer(SHOP)
    )
    assert claimed.status == 200
    clock.advance(days=1)
    await close(client, PERSON, NAME, case="second-case")  # its question stays queued: nothing is delivered now
    store: Store = client.runtime.store  # type: ignore[attr-defined]
    body = json.dumps({"update_id": 1, "message": {"chat": {"id": PERSON}, "from": customer, "text": COMMENT}})
    async with store.transaction() as conn:  # a raw request that was never processed
        entry = await journal.add(conn, "telegram", "shop", body, {}, clock.now, "test", timedelta(seconds=30))
        await journal.give_up(conn, entry.id, "gave up")
    return int(first["survey"]["id"])


async def figures(client: TestClient) -> dict[str, Any]:
    """What the report says, in every figure the API gives."""
    out = {}
    for query in ("by=channel&bucket=week", "by=agent", "by=team", "profile=shop&by=locale&bucket=day"):
        resp = await client.get(f"/api/v1/nps?{query}", headers=bearer(ADMIN))
        assert resp.status == 200
        out[query] = await resp.json()
    resp = await client.get("/api/v1/detractors?profile=shop", headers=bearer(ADMIN))
    out["follow-up"] = [
        {k: v for k, v in item.items() if k in ("id", "score", "status", "claimed_by", "completed_at", "claimed_at")}
        for item in (await resp.json())["items"]
    ]
    return out


async def tables(store: Store) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Every table the database has (found by reflection): its column names and its rows as comparable tuples."""
    async with store.read() as conn:
        meta = MetaData()
        await conn.run_sync(meta.reflect)
        out = {}
        for table in meta.sorted_tables:
            rows = (await conn.execute(select(table))).all()
            out[table.name] = ([c.name for c in table.columns], sorted((tuple(map(_text, r)) for r in rows), key=repr))
        return out


async def dump(store: Store, *, leave_out: tuple[str, ...] = ()) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but `leave_out`."""
    return {name: rows for name, (_, rows) in (await tables(store)).items() if name not in leave_out}


def _text(value: Any) -> Any:
    return json.dumps(value, sort_keys=True, default=str) if isinstance(value, dict | list) else value


async def holding(store: Store, needles: tuple[str, ...]) -> list[str]:
    """Each table.column whose value holds one of `needles` (any case), with the needle: every column, not only
    the text and JSON ones, so an id stored as a number is found too."""
    found = set()
    for table, (columns, rows) in (await tables(store)).items():
        for row in rows:
            for column, value in zip(columns, row, strict=True):
                text = str(value).lower()
                found |= {f"{table}.{column}: {n}" for n in needles if n.lower() in text}
    return sorted(found)
