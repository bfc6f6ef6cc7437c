"""Outbound pacing over the wire: the worker and the real aiogram Bot against a fake Bot API that answers 429 to any
message arriving sooner than the per-chat limit allows after the one before (the limit is set high, 20/s, so the
test is quick; the bench runs Telegram's real 1/s)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.telegram_api import FakeTelegram, FloodLimits
from core.store.tables import OutboxRow
from core.types import Address, ConversationClosed

PER_CHAT = 20.0
CHAT = 31337
OUT = OutboxRow.__table__


@pytest.fixture
async def fake():
    strict = FloodLimits(per_chat=(1, 1 / PER_CHAT), per_bot=(30, 1.0), per_group=(20, 60.0))
    f = await FakeTelegram(limits=strict).start()
    yield f
    await f.close()


def config(tmp_path, fake: FakeTelegram) -> dict:
    telegram = {
        "token": "123456:PACE-token",
        "secret_token": "x",
        "api_base": fake.base,
        "per_chat_per_second": PER_CHAT,
        "per_bot_per_second": 25,
    }
    return {
        "database_url": f"sqlite:///{tmp_path / 'pace.db'}",
        "worker": {"poll_interval": "20ms"},
        "profiles": {"shop": {"brand": "Shop", "policy": {"throttle": "0s"}, "channels": {"telegram": telegram}}},
    }


async def queued(runtime: Runtime) -> int:
    async with runtime.store.read() as conn:
        q = select(func.count()).where(OUT.c.status.in_(["pending", "sending"]))
        return int((await conn.execute(q)).scalar_one())


async def test_sixty_questions_to_one_chat_draw_no_429(tmp_path, fake: FakeTelegram) -> None:
    runtime = Runtime(parse_config(config(tmp_path, fake), env={}))
    await runtime.store.migrate()
    try:
        for case in range(60):  # one private chat, sixty closed cases: sixty questions queued at once
            event = ConversationClosed(Address("telegram", "shop", str(CHAT), str(CHAT)), case_id=f"case-{case}")
            await runtime.service.handle(event)
        assert await queued(runtime) == 60
        async with asyncio.timeout(120):
            while await queued(runtime):
                if await runtime.worker.run_once() == 0:
                    await asyncio.sleep(0.02)
    finally:
        await runtime.stop()
    assert fake.rejected_429 == 0
    sent = fake.of("sendMessage", CHAT)
    assert len(sent) == 60 and all(c.result is not None for c in sent)  # each question sent once, none refused
