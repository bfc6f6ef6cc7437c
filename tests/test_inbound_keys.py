"""Delivery keys: every inbound message is recorded once, whether or not a survey was open, so a late redelivery is
never taken for a new reply; every state change stays exactly once."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from adapters.memory import MemoryChannel
from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from core.profiles import ProfileSettings
from core.service import SurveyService
from core.store import Store
from core.store.tables import ContactRow, InboundKeyRow, OutboxRow, SurveyRow
from core.survey import Policy
from core.types import Address, TextReceived

KEYS, CONTACTS, OUT, SUR = (t.__table__ for t in (InboundKeyRow, ContactRow, OutboxRow, SurveyRow))


async def count(store: Store, table) -> int:
    async with store.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def snapshot(store: Store) -> tuple:
    tables = []
    async with store.read() as conn:
        for table in (KEYS, CONTACTS, OUT, SUR):
            tables.append(sorted(tuple(map(str, r)) for r in (await conn.execute(select(table))).all()))
    return tuple(tables)


def service(store: Store, clock) -> SurveyService:
    return SurveyService(store, {"acme": ProfileSettings("acme", Policy(brand="Acme"))}, clock)


async def test_a_message_redelivered_after_a_survey_opened_is_not_a_reply(store: Store, clock) -> None:
    chat = MemoryChannel(service(store, clock), "acme")
    assert (await chat.reply("c1", "u1", "8 agents helped me", event_id="m1")).status == "no_survey"
    assert await count(store, KEYS) == 1 and await count(store, CONTACTS) == 0
    await chat.close("c1", "u1", event_id="e1")
    before = await snapshot(store)
    assert (await chat.reply("c1", "u1", "8 agents helped me", event_id="m1")).status == "duplicate"
    assert await snapshot(store) == before  # still asked: the old message did not score the new survey


async def test_a_message_that_writes_the_contact_locale_is_still_exactly_once(store: Store, clock) -> None:
    svc = service(store, clock)
    event = TextReceived(Address("memory", "acme", "c1", "u1"), "hola", locale="es")
    assert (await svc.handle(event, dedup_key="m1")).status == "no_survey"
    before = await snapshot(store)
    assert await count(store, KEYS) == 1
    assert (await svc.handle(event, dedup_key="m1")).status == "duplicate"
    assert await snapshot(store) == before


async def test_replies_that_change_a_survey_are_duplicates_when_replayed(store: Store, clock) -> None:
    chat = MemoryChannel(service(store, clock), "acme")
    assert (await chat.close("c1", "u1", event_id="e1")).status == "ok"
    for key, text, state in (("e2", "9", "scored"), ("e3", "Quick and kind", "completed")):
        first = await chat.reply("c1", "u1", text, event_id=key)
        assert first.status == "ok" and first.survey is not None and first.survey.state == state
        before = await snapshot(store)
        assert (await chat.reply("c1", "u1", text, event_id=key)).status == "duplicate"
        assert await snapshot(store) == before
    assert await count(store, KEYS) == 3


async def test_the_same_reply_delivered_twice_at_once_is_applied_once(store: Store, clock) -> None:
    chat = MemoryChannel(service(store, clock), "acme")
    await chat.close("c1", "u1", event_id="e1")
    outbox_before = await count(store, OUT)
    results = await asyncio.gather(*(chat.reply("c1", "u1", "9", event_id="e2") for _ in range(2)))
    assert sorted(r.status for r in results) == ["duplicate", "ok"]
    assert await count(store, OUT) - outbox_before == 2  # thanks and the comment question, once
    assert await count(store, KEYS) == 2


async def test_telegram_webhook_answers_empty_json_and_records_the_update_once(tmp_path) -> None:
    cfg = {
        "database_url": f"sqlite:///{tmp_path / 'k.db'}",
        "profiles": {
            "shop": {
                "brand": "Shop",
                "channels": {"telegram": {"token": "123456:keys-token", "secret_token": "s", "api_base": "http://x"}},
            }
        },
    }
    runtime = Runtime(parse_config(cfg, env={}))
    await runtime.store.migrate()
    user = {"id": 42, "is_bot": False, "first_name": "Ana"}
    message = {"message_id": 1, "date": 1767225600, "chat": {"id": 42, "type": "private"}, "from": user, "text": "hi"}
    update = {"update_id": 7, "message": message}
    async with TestClient(TestServer(create_app(runtime))) as client:
        for _ in range(2):
            resp = await client.post("/telegram/shop", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s"})
            assert resp.status == 200 and resp.content_type == "application/json"
            assert await resp.read() == b"{}"
        assert await count(runtime.store, KEYS) == 1
