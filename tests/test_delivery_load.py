"""Delivery under load, faults and restarts, against the fake Bot API enforcing Telegram's flood limits."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import aiohttp
import asyncpg
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.telegram_api import FakeTelegram, FloodLimits
from core.store.tables import OutboxRow
from core.types import Address, ConversationClosed

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


async def test_burst_of_100_is_delivered_without_a_single_429(tmp_path, fake: FakeTelegram) -> None:
    """Four seconds' worth at the bot's 25/s: unpaced, all but the first 30 of each second would get a 429."""
    runtime = Runtime(parse_config(config(f"sqlite:///{tmp_path / 'burst.db'}", fake), env={}))
    await runtime.store.migrate()
    await open_surveys(runtime, 100)
    deadline = time.monotonic() + 120
    while await pending(runtime) and time.monotonic() < deadline:
        if await runtime.worker.run_once() == 0:
            await asyncio.sleep(0.05)
    await runtime.stop()
    per_chat = Counter(c.chat_id for c in fake.of("sendMessage"))
    assert fake.rejected_429 == 0
    assert len(per_chat) == 100 and set(per_chat.values()) == {1}


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


async def test_429_holds_the_bot_exactly_retry_after(tmp_path, clock) -> None:
    """On an injected clock and sleep: the fake answers 429 retry_after=7 and nothing reaches the bot sooner."""
    fake = await FakeTelegram().start()
    runtime = Runtime(parse_config(config(f"sqlite:///{tmp_path / 'r.db'}", fake), env={}), clock=clock)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds=seconds)

    runtime.worker.sleep = sleep
    await runtime.store.migrate()
    fake.fail("sendMessage", 429, "Too Many Requests: retry after 7", chat_id=10_000, retry_after=7)
    try:
        await open_surveys(runtime, 1)
        await runtime.worker.run_once()
        assert len(fake.of("sendMessage", 10_000)) == 1  # answered 429
        await open_surveys(runtime, 1, first_chat=10_001)  # another chat of the same bot, queued meanwhile
        for step in (5.0, 1.9):
            clock.advance(seconds=step)
            await runtime.worker.run_once()
            await runtime.worker.run_once()
            assert len(fake.of("sendMessage")) == 1 and slept == []  # t = 5 s, 6.9 s: nothing sent
        clock.advance(seconds=0.1)
        await runtime.worker.run_once()
        sent = fake.of("sendMessage")
        assert sorted(c.chat_id for c in sent[1:]) == [10_000, 10_001]  # t = 7 s: both go
        assert all(c.result is not None for c in sent[1:]) and sum(slept) < 0.1  # within the bot's 25/s
    finally:
        await runtime.stop()
        await fake.close()
    text = runtime.metrics.render().decode()
    assert 'npsbot_messages_rate_limited_total{channel="telegram",kind="ask_score"} 1.0' in text


def spawn_worker(cfg_path: Path, role: str = "worker") -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return asyncio.create_subprocess_exec(  # type: ignore[return-value]
        sys.executable, "-m", "bots.cli", "run", "--role", role, "-c", str(cfg_path), cwd=str(ROOT), env=env
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
    await open_surveys(runtime, 120)

    first = await spawn_worker(cfg_path)
    await wait_for(lambda: len(fake.of("sendMessage")) >= 40)
    first.send_signal(signal.SIGKILL)
    await first.wait()
    before_restart = len(fake.of("sendMessage"))
    assert 40 <= before_restart < 120

    second = await spawn_worker(cfg_path)
    try:
        await wait_for(lambda: len({c.chat_id for c in fake.of("sendMessage")}) == 120)
        for _ in range(200):
            if await pending(runtime) == 0:
                break
            await asyncio.sleep(0.05)
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.wait(), 30)
    per_chat = Counter(c.chat_id for c in fake.of("sendMessage"))
    twice = [chat for chat, n in per_chat.items() if n > 1]
    assert len(per_chat) == 120 and max(per_chat.values()) <= 2
    assert len(twice) <= 1, f"only the message in flight at the kill may repeat, got {twice}"
    assert await pending(runtime) == 0
    assert fake.rejected_429 == 0
    await runtime.stop()


@pytest.mark.postgres
async def test_two_worker_processes_on_postgres_send_each_message_once(tmp_path, fake: FakeTelegram, pg_url) -> None:
    # Rate limits are per process: two workers share the bot's 25/s; alone at 12/s, one would need 8 s for the
    # 100, long enough for the other to start and take part.
    runtime = Runtime(parse_config(config(pg_url, fake), env={}))
    async with runtime.store.transaction() as conn:
        from sqlalchemy import text

        from tests.conftest import TABLES

        await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY"))
    await open_surveys(runtime, 100, first_chat=20_000)
    cfg_path = tmp_path / "npsbot.yaml"
    cfg = config(pg_url, fake, batch=10)
    cfg["profiles"]["shop"]["channels"]["telegram"]["per_bot_per_second"] = 12
    cfg_path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    workers = [await spawn_worker(cfg_path), await spawn_worker(cfg_path)]
    try:
        await wait_for(lambda: len(fake.of("sendMessage")) >= 100)
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
    assert len(per_chat) == 100 and set(per_chat.values()) == {1}
    assert len(leased_by) == 2, "both processes took part"
    assert fake.rejected_429 == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def get_text(url: str) -> str | None:
    try:
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            return await resp.text() if resp.status == 200 else None
    except aiohttp.ClientError:
        return None


def sample(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return None


@pytest.mark.postgres
async def test_web_and_worker_processes_share_one_postgres(tmp_path, fake: FakeTelegram, pg_url) -> None:
    """Started together on an empty database: they migrate in turn; the web process takes the request and
    sends nothing, the worker process delivers and reports it on its own /metrics."""
    name = f"npsbot_roles_{uuid.uuid4().hex[:8]}"
    admin = pg_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_url.rsplit("/", 1)[0] + f"/{name}"
    web_port, metrics_ports = free_port(), [free_port(), free_port()]
    procs = []
    for role, port in (("web", None), ("worker", metrics_ports[0]), ("worker", metrics_ports[1])):
        cfg = config(url, fake, metrics_port=port)
        cfg["server"] = {"port": web_port}
        cfg["admin_tokens"] = ["roles-admin-token-0001"]
        cfg_path = tmp_path / f"npsbot-{role}-{port}.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
        procs.append(await spawn_worker(cfg_path, role))
    try:
        async with asyncio.timeout(60):
            while await get_text(f"http://127.0.0.1:{web_port}/healthz") is None:
                assert all(p.returncode is None for p in procs), "a process exited during start-up"
                await asyncio.sleep(0.1)
        async with aiohttp.ClientSession() as http:
            body = {"profile": "shop", "channel": "telegram", "conversation_id": "31337", "user_id": "31337"}
            headers = {"Authorization": "Bearer roles-admin-token-0001"}
            async with http.post(f"http://127.0.0.1:{web_port}/api/v1/conversations/close", json=body,
                                 headers=headers) as resp:  # fmt: skip
                assert resp.status == 200 and (await resp.json())["survey"]["state"] == "asked"
        await wait_for(lambda: len(fake.of("sendMessage", 31337)) == 1)
        sent: list[float | None] = [None, None]
        async with asyncio.timeout(30):
            while None in sent:
                for i, port in enumerate(metrics_ports):
                    text = await get_text(f"http://127.0.0.1:{port}/metrics")
                    if text is not None:  # a worker that has sent nothing yet has no sample for it
                        value = sample(text, "npsbot_messages_sent_total", channel="telegram", kind="ask_score")
                        sent[i] = value or 0.0
                await asyncio.sleep(0.1)
        web_text = await get_text(f"http://127.0.0.1:{web_port}/metrics")
        assert web_text is not None
    finally:
        for p in procs:
            if p.returncode is None:
                p.send_signal(signal.SIGTERM)
        codes = [await asyncio.wait_for(p.wait(), 30) for p in procs]
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
    assert codes == [0, 0, 0]
    assert len(fake.of("sendMessage")) == 1
    # the worker that sent it counted it; the web process sent nothing but sees the queue in the database
    assert sorted(sent) == [0.0, 1.0]  # type: ignore[type-var]
    assert sample(web_text, "npsbot_messages_sent_total", channel="telegram", kind="ask_score") is None
    assert sample(web_text, "npsbot_outbox_messages", status="sent") == 1.0
