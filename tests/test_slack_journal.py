"""Slack's 200 means "journaled": a request answered and then lost to a crash is processed by the next start,
once, even with two processes starting together; one that keeps failing is given up without blocking others."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, select

from bots.app import RUNTIME, create_app
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.slack_api import FakeSlack
from core.inbound_journal import MAX_ATTEMPTS
from core.store import Store, journal
from core.store.tables import SurveyRow
from tests.slack_requests import CHAN, CUSTOMER, ROOT_TS, SIGNING, block_action, reaction, sign, slack_fake

ROOT = Path(__file__).resolve().parent.parent
S = SurveyRow.__table__


fake = pytest.fixture(slack_fake)


def config(url: str, fake: FakeSlack, **extra: Any) -> dict[str, Any]:
    slack = {"bot_token": "xoxb-test-token", "signing_secret": SIGNING, "api_base": fake.base}
    desk = {"brand": "Acme", "policy": {"throttle": "0s"}, "channels": {"slack": slack}}
    return {"database_url": url, "profiles": {"desk": desk}, **extra}


def runtime_on(store: Store, fake: FakeSlack, clock: Any) -> Runtime:
    return Runtime(parse_config(config(store.url, fake), env={}), store=store, clock=clock)


@asynccontextmanager
async def serve(store: Store, fake: FakeSlack, clock: Any) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(runtime_on(store, fake, clock)))) as client:
        yield client


def channel(client: TestClient) -> Any:
    return client.app[RUNTIME].channel("slack", "desk")


async def post(client: TestClient, body: str, content_type: str) -> tuple[int, str]:
    resp = await client.post("/slack/desk/events", data=body, headers={"Content-Type": content_type, **sign(body)})
    return resp.status, await resp.text()


async def rows(store: Store) -> list[dict[str, Any]]:
    async with store.read() as conn:
        return await journal.entries(conn, "slack")


async def all_surveys(store: Store) -> list[Any]:
    async with store.read() as conn:
        return list(await conn.execute(select(S).order_by(S.c.id)))


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    try:
        async with asyncio.timeout(60):
            while not await check():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


async def test_the_answer_waits_for_the_journal_and_the_row_goes_once_processed(
    store: Store, fake: FakeSlack, clock
) -> None:
    gate = asyncio.Event()
    fake.held["conversations.replies"] = gate
    async with serve(store, fake, clock) as client:
        body = json.dumps(reaction())
        assert (await post(client, body, "application/json"))[0] == 200
        [row] = await rows(store)  # committed before the 200, while the work still waits on Slack
        assert (row["body"], row["headers"]["content-type"], row["status"]) == (body, "application/json", "pending")
        assert await all_surveys(store) == []
        gate.set()
        await channel(client).idle()
        assert await rows(store) == []
        assert [s.user_id for s in await all_surveys(store)] == [CUSTOMER]
        # The channel journals, so its series are there even while empty: an alert on dead > 0 has one to watch.
        metrics = (await (await client.get("/metrics")).text()).splitlines()
        assert {'npsbot_inbound_journal{channel="slack",status="pending"} 0.0',
                'npsbot_inbound_journal{channel="slack",status="dead"} 0.0'} <= set(metrics)  # fmt: skip
        # What bolt answers by itself is answered inline and leaves nothing behind.
        challenge = json.dumps({"token": "t", "challenge": "c-123", "type": "url_verification"})
        status, text = await post(client, challenge, "application/json")
        assert status == 200 and "c-123" in text
        assert await rows(store) == []


async def test_a_shutdown_hands_unfinished_requests_to_the_next_start(store: Store, fake: FakeSlack, clock) -> None:
    gate = asyncio.Event()
    fake.held["conversations.replies"] = gate
    async with serve(store, fake, clock) as client:
        assert (await post(client, json.dumps(reaction()), "application/json"))[0] == 200
        await channel(client).journal.stop(grace=0)
        [row] = await rows(store)
        assert (row["leased_by"], row["lease_until"], row["attempts"]) == (None, None, 0)
    gate.set()
    second = runtime_on(Store(store.url), fake, clock)
    try:
        await second.start()
        await second.channel("slack", "desk").idle()
    finally:
        await second.stop()
    assert await rows(store) == []
    assert [s.user_id for s in await all_surveys(store)] == [CUSTOMER]


async def test_leftovers_are_replayed_once_by_two_channels_starting_together(
    store: Store, fake: FakeSlack, clock
) -> None:
    """What a crashed process journaled (its lease long run out) is claimed by exactly one of two new ones."""
    stamps = [f"1699999999.{n:06d}" for n in range(12)]
    crashed_at = clock() - timedelta(minutes=5)
    async with store.transaction() as conn:
        for n, ts in enumerate(stamps):
            body = reaction(f"Ev0LEFT{n:03d}")
            body["event"]["item"]["ts"] = ts
            headers = {"content-type": "application/json"}
            lease = timedelta(seconds=60)
            await journal.add(conn, "slack", "desk", json.dumps(body), headers, crashed_at, "crashed:1", lease)
    first, second = runtime_on(store, fake, clock), runtime_on(Store(store.url), fake, clock)
    try:
        await asyncio.gather(first.start(), second.start())
        await asyncio.gather(first.channel("slack", "desk").idle(), second.channel("slack", "desk").idle())
    finally:
        await second.stop()
        await first.stop()
    # Each reaction asks Slack once whether it sits on a thread's parent: a second replay would ask again.
    assert sorted(c.params["ts"] for c in fake.of("conversations.replies")) == stamps
    assert sorted(s.thread for s in await all_surveys(store)) == stamps
    assert await rows(store) == []


async def test_a_poison_request_is_given_up_without_blocking_later_ones(
    store: Store, fake: FakeSlack, clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="core.inbound_journal")
    msg = {"ts": "1700000000.000001", "thread_ts": ROOT_TS, "channel": CHAN}
    # A well-formed "Add a comment" for a survey that does not exist; the note saying so is refused every time.
    poison = urllib.parse.urlencode(block_action(CUSTOMER, "424242", "nps_comment", msg))
    fake.lasting_errors["chat.postEphemeral"] = "channel_not_found"
    async with serve(store, fake, clock) as client:
        ch = channel(client)
        assert (await post(client, poison, "application/x-www-form-urlencoded"))[0] == 200
        await ch.idle()
        assert (await post(client, json.dumps(reaction()), "application/json"))[0] == 200
        await ch.idle()
        assert [s.user_id for s in await all_surveys(store)] == [CUSTOMER]  # not held up by the failing one
        for _ in range(MAX_ATTEMPTS + 3):  # more sweeps than attempts: a dead row is never taken again
            clock.advance(minutes=5)
            await ch.journal.recover()
            await ch.idle()
        [row] = await rows(store)
        metrics = await (await client.get("/metrics")).text()
    assert 'npsbot_inbound_journal{channel="slack",status="dead"} 1.0' in metrics.splitlines()
    assert (row["status"], row["attempts"]) == ("dead", MAX_ATTEMPTS)
    assert "channel_not_found" in row["last_error"]
    gave_up = [r for r in caplog.records if r.levelno == logging.ERROR and "gave up" in r.getMessage()]
    assert len(gave_up) == 1 and f"after {MAX_ATTEMPTS} attempts" in gave_up[0].getMessage()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def spawn(cfg: Path, log: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bots.cli", "run", "-c", str(cfg), cwd=str(ROOT), env=env, stdout=out, stderr=out
        )


async def healthy(base: str) -> bool:
    try:
        async with aiohttp.ClientSession() as http, http.get(f"{base}/healthz") as resp:
            return resp.status == 200
    except aiohttp.ClientError:
        return False


async def test_an_event_acknowledged_and_then_lost_to_sigkill_is_processed_by_the_next_process(
    store: Store, fake: FakeSlack, tmp_path: Path
) -> None:
    """The real crash: `npsbot run` answers 200 and is killed while the work waits on Slack; the next one
    creates the survey and posts the question, once."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    extra = {"server": {"host": "127.0.0.1", "port": port}, "worker": {"lease": "2s", "send_timeout": "1s"}}
    cfg = tmp_path / "npsbot.yaml"
    cfg.write_text(yaml.safe_dump(config(store.url, fake, **extra)), encoding="utf-8")
    log = tmp_path / "npsbot.log"
    gate = asyncio.Event()
    fake.held["conversations.replies"] = gate  # the first process never gets past this call

    first = await spawn(cfg, log)
    try:
        await eventually(lambda: healthy(base), "the first process serves")
        body = json.dumps(reaction())
        headers = {"Content-Type": "application/json", **sign(body)}
        url = f"{base}/slack/desk/events"
        async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as resp:
            assert resp.status == 200

        async def work_started() -> bool:
            return bool(fake.of("conversations.replies"))

        await eventually(work_started, "the work started")
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    assert await all_surveys(store) == []
    assert [r["status"] for r in await rows(store)] == ["pending"]

    fake.held.clear()
    gate.set()
    second = await spawn(cfg, log)
    try:

        async def question_posted() -> bool:
            return bool(fake.of("chat.postMessage")) and await rows(store) == []

        await eventually(question_posted, f"the next process replays the event\n{log.read_text()}")
    finally:
        second.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(second.wait(), 30)
    assert code == 0, log.read_text()
    [question] = fake.of("chat.postMessage")
    assert (question.params["channel"], question.params["thread_ts"]) == (CHAN, ROOT_TS)
    [created] = await all_surveys(store)
    assert (created.user_id, created.thread, created.state) == (CUSTOMER, ROOT_TS, "asked")
    assert await rows(store) == []


async def test_replays_finishing_together_leave_the_journal_in_one_delete(store: Store, fake: FakeSlack, clock) -> None:
    """Every processed request leaves the journal, but not one DELETE each: those done in the same turn go in
    one statement."""
    deletes: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM INBOUND_JOURNAL"):
            deletes.append(statement)

    gate = asyncio.Event()
    fake.held["conversations.replies"] = gate  # every close waits here, then all go on together
    event.listen(store.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with serve(store, fake, clock) as client:
            for n in range(8):
                body = reaction(f"Ev0BATCH{n}")
                body["event"]["item"]["ts"] = f"17000000{n}0.000100"
                assert (await post(client, json.dumps(body), "application/json"))[0] == 200
            assert len(await rows(store)) == 8
            gate.set()
            await channel(client).idle()
            assert await rows(store) == []
            assert len(await all_surveys(store)) == 8
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", count)
    assert 1 <= len(deletes) < 8


async def test_a_request_that_fails_before_the_answer_is_journaled_and_retried(
    store: Store, fake: FakeSlack, clock
) -> None:
    """Processed before the answer in the common case; when that fails, the 200 still waits for the journal row, and
    the request is retried from it later, once, and leaves."""
    msg = {"ts": "1700000000.000001", "thread_ts": ROOT_TS, "channel": CHAN}
    # "Add a comment" for a survey that does not exist: the listener's note saying so is refused once.
    tap = urllib.parse.urlencode(block_action(CUSTOMER, "424242", "nps_comment", msg))
    fake.errors["chat.postEphemeral"] = "channel_not_found"
    async with serve(store, fake, clock) as client:
        ch = channel(client)
        assert (await post(client, tap, "application/x-www-form-urlencoded"))[0] == 200
        [row] = await rows(store)  # committed before the 200
        assert row["body"] == tap
        await ch.idle()
        [row] = await rows(store)
        assert (row["status"], row["attempts"], row["leased_by"]) == ("pending", 1, None)
        assert "channel_not_found" in row["last_error"]
        assert len(fake.of("chat.postEphemeral")) == 1
        clock.advance(minutes=5)
        await ch.journal.recover()
        await ch.idle()
        assert await rows(store) == []
        assert len(fake.of("chat.postEphemeral")) == 2  # the retry posted the note


async def test_a_duplicate_delivery_is_answered_and_changes_nothing(store: Store, fake: FakeSlack, clock) -> None:
    """Slack redelivers an event it thinks went unanswered (x-slack-retry-num): it is processed inline again, and
    its event id makes that a no-op. Nothing is journaled either time."""
    inserts: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO INBOUND_JOURNAL"):
            inserts.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with serve(store, fake, clock) as client:
            body = json.dumps(reaction("Ev0DUP0001"))
            assert (await post(client, body, "application/json"))[0] == 200
            [first] = await all_surveys(store)  # done before the answer
            retry = {
                "Content-Type": "application/json",
                "X-Slack-Retry-Num": "1",
                "X-Slack-Retry-Reason": "http_timeout",
            }
            resp = await client.post("/slack/desk/events", data=body, headers={**retry, **sign(body)})
            assert resp.status == 200
            await channel(client).idle()
            [again] = await all_surveys(store)
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", count)
    assert (again.id, again.state, again.user_id) == (first.id, first.state, CUSTOMER)
    assert inserts == [] and await rows(store) == []
