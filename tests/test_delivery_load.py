"""Delivery under load, faults and restarts, against the fake Bot API enforcing Telegram's flood limits."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from bots.config import parse_config
from bots.runtime import Runtime
from core.store.tables import OutboxRow
from core.types import Address, ConversationClosed
from tests.fakes.telegram_api import FakeTelegram, FloodLimits

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:LOAD-token"
OUT = OutboxRow.__table__


def config(database_url: str, fake: FakeTelegram, **worker: object) -> dict:
    return {
        "database_url": database_url,
        "worker": {"lease": "2s", "send_timeout": "1s", "batch": 50, "poll_interval": "50ms", **worker},
        "profiles": {
            "shop": {
                "brand": "Shop",
                "policy": {"throttle": "0s"},
                "channels": {"telegram": {"token": TOKEN, "secret_token": "x", "api_base": fake.base}},
            }
        },
    }


@pytest.fixture
async def fake():
    f = await FakeTelegram(limits=FloodLimits()).start()
    yield f
    await f.close()


async def open_surveys(runtime: Runtime, n: int, first_chat: int = 10_000) -> None:
    for i in range(n):
        chat = str(first_chat + i)
        await runtime.service.handle(ConversationClosed(Address("telegram", "shop", chat, chat)))


async def pending(runtime: Runtime) -> int:
    async with runtime.store.read() as conn:
        q = select(func.count()).where(OUT.c.status.in_(["pending", "sending"]))
        return int((await conn.execute(q)).scalar_one())


async def test_burst_of_300_is_delivered_without_a_single_429(tmp_path, fake: FakeTelegram) -> None:
    runtime = Runtime(parse_config(config(f"sqlite:///{tmp_path / 'burst.db'}", fake), env={}))
    await runtime.store.migrate()
    await open_surveys(runtime, 300)
    deadline = time.monotonic() + 120
    while await pending(runtime) and time.monotonic() < deadline:
        if await runtime.worker.run_once() == 0:
            await asyncio.sleep(0.05)
    await runtime.stop()
    per_chat = Counter(c.chat_id for c in fake.of("sendMessage"))
    assert fake.rejected_429 == 0
    assert len(per_chat) == 300 and set(per_chat.values()) == {1}


async def test_500s_and_timeouts_are_retried(tmp_path, clock) -> None:
    fake = await FakeTelegram().start()
    runtime = Runtime(
        parse_config(config(f"sqlite:///{tmp_path / 'faults.db'}", fake, send_timeout="300ms"), env={}), clock=clock
    )
    await runtime.store.migrate()
    fake.fail("sendMessage", 500, "Internal Server Error", chat_id=10_000)
    fake.fail("sendMessage", 502, "Bad Gateway", chat_id=10_000)
    fake.fail("sendMessage", 200, "slow", chat_id=10_001, delay=2.0)  # answers too late: a timeout
    await open_surveys(runtime, 2)
    for _ in range(6):
        await runtime.worker.run_once()
        clock.advance(minutes=5)
    async with runtime.store.read() as conn:
        rows = (await conn.execute(select(OUT.c.status, OUT.c.attempts).order_by(OUT.c.id))).all()
    await runtime.stop()
    await fake.close()
    assert [tuple(r) for r in rows] == [("sent", 3), ("sent", 2)]
    text = runtime.metrics.render().decode()
    assert 'npsbot_messages_retried_total{channel="telegram",kind="ask_score"} 3.0' in text


def spawn_worker(cfg_path: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return asyncio.create_subprocess_exec(  # type: ignore[return-value]
        sys.executable, "-m", "bots.cli", "run", "--role", "worker", "-c", str(cfg_path), cwd=str(ROOT), env=env
    )


async def wait_for(predicate) -> None:
    async with asyncio.timeout(120):
        while not predicate():
            await asyncio.sleep(0.02)


async def test_worker_killed_mid_burst_loses_nothing(tmp_path, fake: FakeTelegram) -> None:
    """With one send in flight at a time, a SIGKILL can repeat at most that one message."""
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    cfg_path = tmp_path / "npsbot.yaml"
    cfg_path.write_text(yaml.safe_dump(config(url, fake, concurrency=1)), encoding="utf-8")
    runtime = Runtime(parse_config(config(url, fake), env={}))
    await runtime.store.migrate()
    await open_surveys(runtime, 300)

    first = await spawn_worker(cfg_path)
    await wait_for(lambda: len(fake.of("sendMessage")) >= 100)
    first.send_signal(signal.SIGKILL)
    await first.wait()
    before_restart = len(fake.of("sendMessage"))
    assert 100 <= before_restart < 300

    second = await spawn_worker(cfg_path)
    try:
        await wait_for(lambda: len({c.chat_id for c in fake.of("sendMessage")}) == 300)
        for _ in range(200):
            if await pending(runtime) == 0:
                break
            await asyncio.sleep(0.05)
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.wait(), 30)
    per_chat = Counter(c.chat_id for c in fake.of("sendMessage"))
    twice = [chat for chat, n in per_chat.items() if n > 1]
    assert len(per_chat) == 300 and max(per_chat.values()) <= 2
    assert len(twice) <= 1, f"only the message in flight at the kill may repeat, got {twice}"
    assert await pending(runtime) == 0
    assert fake.rejected_429 == 0
    await runtime.stop()


@pytest.mark.postgres
async def test_two_worker_processes_on_postgres_send_each_message_once(tmp_path, fake: FakeTelegram, pg_url) -> None:
    # Rate limits are per process: two workers share the bot's 25/s.
    runtime = Runtime(parse_config(config(pg_url, fake), env={}))
    async with runtime.store.transaction() as conn:
        from sqlalchemy import text

        await conn.execute(text("TRUNCATE outbox, inbound_keys, surveys, contacts, dead_endpoints RESTART IDENTITY"))
    await open_surveys(runtime, 200, first_chat=20_000)
    cfg_path = tmp_path / "npsbot.yaml"
    cfg = config(pg_url, fake, batch=10)
    cfg["profiles"]["shop"]["channels"]["telegram"]["per_bot_per_second"] = 12
    cfg_path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    workers = [await spawn_worker(cfg_path), await spawn_worker(cfg_path)]
    try:
        await wait_for(lambda: len(fake.of("sendMessage")) >= 200)
        for _ in range(200):
            if await pending(runtime) == 0:
                break
            await asyncio.sleep(0.05)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            await asyncio.wait_for(w.wait(), 30)
    async with runtime.store.read() as conn:
        leased_by = set((await conn.execute(select(OUT.c.leased_by))).scalars())
    await runtime.stop()
    per_chat = Counter(c.chat_id for c in fake.of("sendMessage"))
    assert len(per_chat) == 200 and set(per_chat.values()) == {1}
    assert len(leased_by) == 2, "both processes took part"
    assert fake.rejected_429 == 0
