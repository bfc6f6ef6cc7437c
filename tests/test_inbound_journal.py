"""The durable inbound journal is core's, not Slack's: a channel of a few lines that opts in answers once the request
is committed, works afterwards, and after a crash a new process on the same database replays what was left; a
request that keeps failing is given up without blocking later ones, and /metrics counts the rows per channel."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bots.metrics import Metrics, journaled_channels, metrics_route
from core.inbound_journal import InboundJournal
from core.profiles import ProfileSettings
from core.service import SurveyService
from core.store import Store, journal
from core.store.tables import SurveyRow
from core.survey import Policy
from core.types import Address, ConversationClosed
from tests.conftest import FakeClock

NAME, PROFILE, TOKEN = "tiny", "desk", "tiny-shared-secret-0123"
LEASE = timedelta(seconds=60)
S = SurveyRow.__table__


class TinyChannel:
    """A made-up platform that, like Slack, never redelivers what it got a 2xx for. It checks a shared token,
    reads the body, journals it and answers 202; its replay closes the conversation under the request's own id, so
    a second replay of the same request is a no-op."""

    channel = NAME

    def __init__(self, service: SurveyService, clock: FakeClock, *, max_attempts: int = 5) -> None:
        self.service = service
        self.journal = InboundJournal(
            service.store, NAME, PROFILE, self.replay, clock, LEASE, max_attempts=max_attempts
        )
        self.hold: asyncio.Event | None = None  # set: replays wait here (a process stuck, or about to die)
        self.hold_after_work = False  # the work is committed, then the process "dies" before the row leaves
        self.worked: list[str] = []

    def mount(self, app: web.Application) -> None:
        app.router.add_post(f"/{NAME}/{PROFILE}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.headers.get("X-Tiny-Token", ""), TOKEN):
            return web.json_response({"error": "bad token"}, status=401)
        body = await request.text()
        try:
            data = json.loads(body)
            _ = (str(data["id"]), str(data["conversation"]), str(data["user"]))
        except (ValueError, TypeError, KeyError) as exc:
            return web.json_response({"error": f"malformed: {exc!r}"}, status=400)
        await self.journal.accept(body, {"content-type": request.content_type})
        return web.json_response({"accepted": True}, status=202)

    async def replay(self, body: str, headers: dict[str, str]) -> str | None:
        data = json.loads(body)
        if data.get("poison"):
            return "the platform refused it"
        if self.hold is not None:
            await self.hold.wait()
        event = ConversationClosed(Address(NAME, PROFILE, data["conversation"], data["user"]))
        await self.service.handle(event, dedup_key=f"{NAME}:{PROFILE}:{data['id']}")
        self.worked.append(data["id"])
        if self.hold_after_work:
            await asyncio.Event().wait()
        return None


def service(store: Store, clock: FakeClock) -> SurveyService:
    return SurveyService(store, {PROFILE: ProfileSettings(PROFILE, Policy(brand="Desk", throttle=timedelta(0)))}, clock)


@asynccontextmanager
async def serve(channel: TinyChannel) -> AsyncIterator[TestClient]:
    """The channel's route and /metrics, on a real server on 127.0.0.1."""
    app = web.Application()
    channel.mount(app)
    metrics = Metrics(channel.service.clock, journaled_channels([channel]))
    app.router.add_routes([metrics_route(metrics, channel.service.store)])
    async with TestClient(TestServer(app)) as client:
        yield client


async def post(client: TestClient, data: dict[str, Any], token: str = TOKEN) -> int:
    resp = await client.post(f"/{NAME}/{PROFILE}", data=json.dumps(data), headers={"X-Tiny-Token": token})
    return resp.status


async def surveys(store: Store) -> list[Any]:
    async with store.read() as conn:
        return list(await conn.execute(select(S.c.channel, S.c.conversation_id, S.c.user_id).order_by(S.c.id)))


async def journal_series(client: TestClient) -> dict[tuple[str, str], float]:
    text = await (await client.get("/metrics")).text()
    return {
        (s.labels["channel"], s.labels["status"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "npsbot_inbound_journal"
    }


async def test_the_answer_waits_for_the_journal_and_the_work_follows(store: Store, clock: FakeClock) -> None:
    tiny = TinyChannel(service(store, clock), clock)
    tiny.hold = asyncio.Event()
    async with serve(tiny) as client:
        assert await post(client, {"id": "e1", "conversation": "c1", "user": "u1"}) == 202
        [row] = await tiny.journal.entries()  # committed before the answer, while the work still waits
        assert (row["channel"], row["profile"], row["status"], row["attempts"]) == (NAME, PROFILE, "pending", 1)
        assert json.loads(row["body"])["id"] == "e1" and await surveys(store) == []
        assert await journal_series(client) == {(NAME, "pending"): 1, (NAME, "dead"): 0}
        tiny.hold.set()
        await tiny.journal.idle()
        assert await tiny.journal.entries() == []
        assert await surveys(store) == [(NAME, "c1", "u1")]
        assert await journal_series(client) == {(NAME, "pending"): 0, (NAME, "dead"): 0}


async def test_refused_requests_are_never_journaled(store: Store, clock: FakeClock) -> None:
    tiny = TinyChannel(service(store, clock), clock)
    async with serve(tiny) as client:
        assert await post(client, {"id": "e1", "conversation": "c1", "user": "u1"}, token="wrong") == 401
        assert (await client.post(f"/{NAME}/{PROFILE}", data="{", headers={"X-Tiny-Token": TOKEN})).status == 400
    assert await tiny.journal.entries() == [] and await surveys(store) == []


async def test_a_crashed_process_leaves_the_request_to_the_next_one(store: Store, clock: FakeClock) -> None:
    """Answered, then the process dies with the work unfinished: a new process on the same database claims the row
    once its lease has run out, and the survey is created once."""
    first = TinyChannel(service(store, clock), clock)
    first.hold = asyncio.Event()  # never set: this process never gets past it
    async with serve(first) as client:
        assert await post(client, {"id": "e1", "conversation": "c1", "user": "u1"}) == 202
    other_store = Store(store.url)
    try:
        second = TinyChannel(service(other_store, clock), clock)
        assert await second.journal.recover() == 0  # still leased by the first process
        clock.advance(seconds=LEASE.total_seconds() + 1)
        await second.journal.start()
        await second.journal.idle()
        await second.journal.stop(grace=1)
    finally:
        await other_store.dispose()
    assert second.worked == ["e1"] and first.worked == []
    assert await surveys(store) == [(NAME, "c1", "u1")]
    assert await first.journal.entries() == []
    await first.journal.stop(grace=0)  # the stuck replay ends; its row is gone, so nothing is handed back


async def test_work_done_before_the_crash_is_not_done_twice(store: Store, clock: FakeClock) -> None:
    """The process dies after the work committed but before the row left: the replay runs again, and the request's
    dedup key makes it a no-op."""
    first = TinyChannel(service(store, clock), clock)
    first.hold_after_work = True
    async with serve(first) as client:
        assert await post(client, {"id": "e1", "conversation": "c1", "user": "u1"}) == 202

        async def worked() -> None:
            while not first.worked:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(worked(), 30)
    clock.advance(seconds=LEASE.total_seconds() + 1)
    second = TinyChannel(service(store, clock), clock)
    assert await second.journal.recover() == 1
    await second.journal.idle()
    assert second.worked == ["e1"]
    assert await surveys(store) == [(NAME, "c1", "u1")]
    assert await second.journal.entries() == []
    await first.journal.stop(grace=0)


async def test_an_attempt_adopted_while_running_finishes_or_is_replayed_after_a_crash(
    store: Store, clock: FakeClock
) -> None:
    """A channel may try a request before journaling it and journal it (`adopt`) when the try runs long: the row is
    committed when adopt returns, the try's success deletes it, and if the process dies first the next one replays
    it, once."""
    body = json.dumps({"id": "e1", "conversation": "c1", "user": "u1"})
    tiny = TinyChannel(service(store, clock), clock)
    tiny.hold = asyncio.Event()
    attempt = tiny.journal.attempt(body, {})
    await asyncio.sleep(0)
    assert not attempt.done()
    await tiny.journal.adopt(body, {}, attempt)
    [row] = await tiny.journal.entries()
    assert (row["status"], row["attempts"], row["leased_by"]) == ("pending", 1, tiny.journal.owner)
    tiny.hold.set()
    await tiny.journal.idle()
    assert tiny.worked == ["e1"] and await tiny.journal.entries() == []

    crashed = TinyChannel(service(store, clock), clock)
    crashed.hold = asyncio.Event()  # never set: this process dies in the try
    lost = json.dumps({"id": "e2", "conversation": "c2", "user": "u2"})
    await crashed.journal.adopt(lost, {}, crashed.journal.attempt(lost, {}))
    clock.advance(seconds=LEASE.total_seconds() + 1)
    second = TinyChannel(service(store, clock), clock)
    assert await second.journal.recover() == 1
    await second.journal.idle()
    assert second.worked == ["e2"] and crashed.worked == []
    assert await surveys(store) == [(NAME, "c1", "u1"), (NAME, "c2", "u2")]
    assert await second.journal.entries() == []
    await crashed.journal.stop(grace=0)


async def test_a_failed_attempt_is_journaled_for_a_retry(store: Store, clock: FakeClock) -> None:
    """A try that failed before the answer is adopted with its failure recorded as the first attempt's: retried with
    backoff by a later sweep, like a replay that failed."""
    body = json.dumps({"id": "bad", "conversation": "c0", "user": "u0", "poison": True})
    tiny = TinyChannel(service(store, clock), clock)
    attempt = tiny.journal.attempt(body, {})
    assert await attempt == "the platform refused it"
    await tiny.journal.adopt(body, {}, attempt)
    await tiny.journal.idle()
    [row] = await tiny.journal.entries()
    assert (row["status"], row["attempts"], row["leased_by"]) == ("pending", 1, None)
    assert "refused" in row["last_error"]
    assert await tiny.journal.recover() == 0  # not before its backoff
    clock.advance(minutes=5)
    assert await tiny.journal.recover() == 1
    await tiny.journal.idle()
    [row] = await tiny.journal.entries()
    assert (row["status"], row["attempts"]) == ("pending", 2)


async def test_a_poison_request_is_given_up_without_blocking_later_ones(
    store: Store, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="core.inbound_journal")
    tiny = TinyChannel(service(store, clock), clock, max_attempts=2)
    async with serve(tiny) as client:
        assert await post(client, {"id": "bad", "conversation": "c0", "user": "u0", "poison": True}) == 202
        assert await post(client, {"id": "e1", "conversation": "c1", "user": "u1"}) == 202
        await tiny.journal.idle()
        assert await surveys(store) == [(NAME, "c1", "u1")]  # not held up by the failing one
        for _ in range(4):  # more sweeps than attempts: a dead row is never taken again
            clock.advance(minutes=5)
            await tiny.journal.recover()
            await tiny.journal.idle()
        [row] = await tiny.journal.entries()
        assert (row["status"], row["attempts"], row["last_error"]) == ("dead", 2, "the platform refused it")
        assert await journal_series(client) == {(NAME, "pending"): 0, (NAME, "dead"): 1}
    gave_up = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert (
        len(gave_up) == 1 and gave_up[0].startswith(f"{NAME} {PROFILE}: gave up") and "after 2 attempts" in gave_up[0]
    )


async def test_each_channel_claims_only_its_own_rows(store: Store, clock: FakeClock) -> None:
    """Two channels journal into the same table for the same profile; neither replays the other's requests."""
    crashed_at = clock() - timedelta(minutes=5)
    async with store.transaction() as conn:
        body = json.dumps({"id": "e1", "conversation": "c1", "user": "u1"})
        await journal.add(conn, NAME, PROFILE, body, {}, crashed_at, "crashed:1", LEASE)
    seen: list[str] = []

    async def other(body: str, _headers: dict[str, str]) -> str | None:
        seen.append(body)
        return None

    assert await InboundJournal(store, "slack", PROFILE, other, clock, LEASE).recover() == 0
    assert await InboundJournal(store, NAME, "another", other, clock, LEASE).recover() == 0
    assert seen == []
    tiny = TinyChannel(service(store, clock), clock)
    assert await tiny.journal.recover() == 1
    await tiny.journal.idle()
    assert tiny.worked == ["e1"] and await tiny.journal.entries() == []


def test_a_channel_name_must_fit_the_journal() -> None:
    async def replay(_body: str, _headers: dict[str, str]) -> str | None:
        return None

    with pytest.raises(ValueError, match="1 to 32 characters"):
        InboundJournal(Store("sqlite+aiosqlite://"), "x" * 33, PROFILE, replay, FakeClock(), LEASE)
