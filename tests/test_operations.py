"""What an operator sees in the logs, through signed webhook requests and a fake bridge on 127.0.0.1, on both
backends: one INFO line per survey transition (creation and ticks included, each once), a WARNING per dead
letter, and never the customer's words, id or name at INFO or above."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.bridge import FakeBridge
from core.store import Store
from core.store.tables import OutboxRow, SurveyRow
from tests.test_webhook import SECRET, closed, deliver, reply, send

S, OUT = SurveyRow.__table__, OutboxRow.__table__
NAME, AGENT = "Jordi Puig-Ferrer", "Marta Soler"
COMMENT = "the courier lost my parcel twice, call me on 555-0101"
PERSONAL = (NAME, AGENT, COMMENT, "555-0101", "no idea really", "contact-")


def contact(n: int) -> str:
    return f"contact-{88230 + n}"


@pytest.fixture
async def bridge() -> AsyncIterator[FakeBridge]:
    b = await FakeBridge().start()
    yield b
    await b.close()


def config(store: Store, bridge: FakeBridge, **policy: Any) -> dict[str, Any]:
    return {
        "database_url": store.url,
        "worker": {"max_attempts": 2},
        "profiles": {
            "acme": {
                "brand": "Acme",
                "policy": {"throttle": "0s", "send_delay": "10m", "comment_window": "1h", **policy},
                "channels": {"webhook": {"secrets": [SECRET], "deliver_url": bridge.url("/deliver")}},
                "alerts": [{"channel": "webhook", "destination": bridge.url("/alerts")}],
            }
        },
    }


@pytest.fixture
async def app(
    store: Store, bridge: FakeBridge, clock: Any, request: pytest.FixtureRequest
) -> AsyncIterator[TestClient]:
    policy = getattr(request, "param", {})
    runtime = Runtime(parse_config(config(store, bridge, **policy), env={}), store=store, clock=clock)
    client = TestClient(TestServer(create_app(runtime)))
    await client.start_server()
    client.runtime = runtime  # type: ignore[attr-defined]
    yield client
    await client.close()


def transitions(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "core.transitions" and r.levelno == logging.INFO]


def dead_letter_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "dead letter" in r.getMessage()]


def assert_nothing_personal(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        if record.levelno >= logging.INFO:
            text = record.getMessage()
            assert not any(p in text for p in PERSONAL), f"{record.name}: {text}"


async def survey_ids(client: TestClient) -> dict[str, int]:
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        return {r.conversation_id: r.id for r in (await conn.execute(select(S.c.conversation_id, S.c.id))).all()}


async def test_a_survey_life_logs_each_transition_once(
    app: TestClient, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    person = {"agent": AGENT, "customer_name": NAME}
    assert (await send(app, closed("c-life", contact(1), **person)))[0] == 200
    await deliver(app)  # the send delay has not passed: no transition
    clock.advance(minutes=10)
    await deliver(app)
    await send(app, reply("c-life", contact(1), text="no idea really"))  # re-asked: the state stays asked
    await send(app, reply("c-life", contact(1), option=3))
    await send(app, reply("c-life", contact(1), text=COMMENT), msg_id="msg_comment")
    assert (await send(app, reply("c-life", contact(1), text=COMMENT), msg_id="msg_comment"))[0] == 200  # replay
    await deliver(app)
    sid = (await survey_ids(app))["c-life"]
    assert transitions(caplog) == [
        f"survey {sid} (acme/webhook): new -> pending",
        f"survey {sid} (acme/webhook): pending -> asked",
        f"survey {sid} (acme/webhook): asked -> scored",
        f"survey {sid} (acme/webhook): scored -> completed",
    ]
    assert_nothing_personal(caplog)


@pytest.mark.parametrize("app", [{"throttle": "30d", "expiry": "24h"}], indirect=True)
async def test_ticks_skips_and_opt_outs_are_logged_with_their_reason(
    app: TestClient, bridge: FakeBridge, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await send(app, closed("c-gone", contact(5), customer_name=NAME))
    clock.advance(minutes=10)
    bridge.answer("/deliver", 410)  # the bridge refuses the question for good
    await deliver(app)
    for n, conv in enumerate(("c-expire", "c-reopen", "c-stop", "c-window"), start=1):
        await send(app, closed(conv, contact(n), customer_name=NAME))
    await send(app, {"type": "conversation.reopened", "data": {"conversation_id": "c-reopen"}})
    clock.advance(minutes=10)
    await deliver(app)
    await send(app, reply("c-stop", contact(3), text="stop"))
    await send(app, reply("c-window", contact(4), option=9))
    await send(app, closed("c-again", contact(4)))  # surveyed minutes ago: throttled
    clock.advance(hours=1, seconds=1)  # the comment window lapses
    await deliver(app)
    clock.advance(hours=24)  # the unanswered question expires
    await deliver(app)
    await send(app, closed("c-later", contact(3)))  # opted out: skipped at creation

    ids = await survey_ids(app)
    expected = {
        "c-gone": ["new -> pending", "pending -> asked", "asked -> skipped (unreachable)"],
        "c-expire": ["new -> pending", "pending -> asked", "asked -> expired"],
        "c-reopen": ["new -> pending", "pending -> skipped (reopened)"],
        "c-stop": ["new -> pending", "pending -> asked", "asked -> opted_out"],
        "c-window": ["new -> pending", "pending -> asked", "asked -> scored", "scored -> completed"],
        "c-again": ["new -> skipped (throttled)"],
        "c-later": ["new -> skipped (opted_out)"],
    }
    logged = transitions(caplog)
    for conv, steps in expected.items():
        prefix = f"survey {ids[conv]} (acme/webhook): "
        assert [m.removeprefix(prefix) for m in logged if m.startswith(prefix)] == steps, conv
    assert len(logged) == sum(len(steps) for steps in expected.values())  # each transition exactly once
    assert_nothing_personal(caplog)


async def _dead_rows(client: TestClient) -> list[Any]:
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        return list((await conn.execute(select(OUT).where(OUT.c.status == "dead").order_by(OUT.c.id))).all())


async def test_a_refused_detractor_alert_is_a_warning_naming_where_not_what(
    app: TestClient, bridge: FakeBridge, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await send(app, closed("c-alert", contact(1), agent=AGENT, customer_name=NAME))
    clock.advance(minutes=10)
    await deliver(app)
    await send(app, reply("c-alert", contact(1), option=2))
    bridge.answer("/alerts", 400)
    await send(app, reply("c-alert", contact(1), text=COMMENT))
    await deliver(app)
    [alert] = bridge.at("/alerts")
    assert alert.json["comment"] == COMMENT  # the alert did carry the comment to the bridge
    [row] = await _dead_rows(app)
    assert row.kind == "detractor_alert" and row.last_error.startswith("400")  # the detail stays in the row
    assert dead_letter_warnings(caplog) == [
        f"dead letter: outbox {row.id} (profile acme, channel webhook, kind detractor_alert): permanent failure"
    ]
    assert_nothing_personal(caplog)


async def test_transient_failures_that_run_out_of_attempts_are_a_warning(
    app: TestClient, bridge: FakeBridge, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await send(app, closed("c-down", contact(1), customer_name=NAME))
    clock.advance(minutes=10)
    bridge.answer("/deliver", 503, times=2)
    await deliver(app)
    assert dead_letter_warnings(caplog) == []  # one failure: retried, not given up
    clock.advance(minutes=5)
    await deliver(app)
    [row] = await _dead_rows(app)
    assert dead_letter_warnings(caplog) == [
        f"dead letter: outbox {row.id} (profile acme, channel webhook, kind ask_score): "
        "gave up after 2 attempts (DeliveryError)"
    ]
    assert_nothing_personal(caplog)


async def test_messages_left_for_a_removed_channel_are_a_warning(
    store: Store, bridge: FakeBridge, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The operator removed the webhook channel while a question was still queued for it."""
    caplog.set_level(logging.INFO)
    before = Runtime(parse_config(config(store, bridge, send_delay="0s"), env={}), store=store, clock=clock)
    client = TestClient(TestServer(create_app(before)))
    await client.start_server()
    try:
        await send(client, closed("c-left", contact(1), customer_name=NAME))
    finally:
        await client.close()
    after = {"database_url": store.url, "profiles": {"acme": {"brand": "Acme", "channels": {"memory": {}}}}}
    runtime = Runtime(parse_config(after, env={}), store=store, clock=clock)
    await runtime.worker.drain()
    async with store.read() as conn:
        [row] = (await conn.execute(select(OUT))).all()
    assert row.status == "dead" and row.last_error == "no sender for channel 'webhook'"
    assert dead_letter_warnings(caplog) == [
        f"dead letter: outbox {row.id} (profile acme, channel webhook, kind ask_score): no sender for this channel"
    ]
    assert_nothing_personal(caplog)


ADMIN = "operations-admin-token"


@pytest.fixture
async def api(store: Store, clock: Any) -> AsyncIterator[TestClient]:
    """Two profiles on the in-process channel, closed through the operator API."""
    profiles = {
        name: {"brand": name, "policy": {"throttle": "0s"}, "channels": {"memory": {}}} for name in ("acme", "tapas")
    }
    cfg = {"database_url": store.url, "admin_tokens": [ADMIN], "profiles": profiles}
    runtime = Runtime(parse_config(cfg, env={}), store=store, clock=clock)
    client = TestClient(TestServer(create_app(runtime)), headers={"Authorization": f"Bearer {ADMIN}"})
    await client.start_server()
    client.runtime = runtime  # type: ignore[attr-defined]
    yield client
    await client.close()


async def close_with_key(client: TestClient, key: str, conv: str = "c1", profile: str = "acme") -> tuple[int, dict]:
    body = {"profile": profile, "channel": "memory", "conversation_id": conv, "user_id": "u1", "agent": "ana"}
    resp = await client.post("/api/v1/conversations/close", json=body, headers={"Idempotency-Key": key})
    return resp.status, await resp.json()


async def test_a_replayed_idempotency_key_answers_with_the_survey_it_created(api: TestClient) -> None:
    status, first = await close_with_key(api, "ticket-1")
    assert status == 200 and first["status"] == "ok" and first["survey"]["state"] == "asked"
    status, again = await close_with_key(api, "ticket-1")
    assert status == 200 and again == {"status": "duplicate", "survey": first["survey"]}
    memory = api.runtime.channel("memory", "acme")
    await memory.tap("c1", "u1", 9)
    _, later = await close_with_key(api, "ticket-1")
    assert (later["status"], later["survey"]["id"], later["survey"]["state"], later["survey"]["score"]) == (
        "duplicate", first["survey"]["id"], "scored", 9,
    )  # fmt: skip
    async with api.runtime.store.read() as conn:  # type: ignore[attr-defined]
        assert (await conn.execute(select(S.c.id))).scalars().all() == [first["survey"]["id"]]  # nothing new


async def test_the_replay_names_the_first_calls_survey_not_the_conversations_latest(api: TestClient) -> None:
    _, first = await close_with_key(api, "k-first")
    reopen = {"profile": "acme", "channel": "memory", "conversation_id": "c1"}
    assert (await api.post("/api/v1/conversations/reopen", json=reopen)).status == 200
    _, second = await close_with_key(api, "k-second")  # the reopened case is surveyed again: a new survey
    assert second["status"] == "ok" and second["survey"]["id"] != first["survey"]["id"]
    _, replay = await close_with_key(api, "k-first")
    assert (replay["status"], replay["survey"]["id"], replay["survey"]["skip_reason"]) == (
        "duplicate", first["survey"]["id"], "reopened",
    )  # fmt: skip
    _, elsewhere = await close_with_key(api, "k-first", conv="c-other")  # same key, other body: still the original
    assert (elsewhere["status"], elsewhere["survey"]["id"]) == ("duplicate", first["survey"]["id"])
    _, other_profile = await close_with_key(api, "k-first", profile="tapas")  # keys are per profile
    assert other_profile["status"] == "ok" and other_profile["survey"]["profile"] == "tapas"


async def test_concurrent_calls_with_one_key_create_one_survey_and_both_name_it(api: TestClient) -> None:
    answers = await asyncio.gather(*(close_with_key(api, "race-1", conv="c-race") for _ in range(6)))
    assert all(status == 200 for status, _ in answers)
    assert sorted(body["status"] for _, body in answers) == ["duplicate"] * 5 + ["ok"]
    assert len({body["survey"]["id"] for _, body in answers}) == 1
