"""What Slack sends before any survey logic: signatures, the 5-minute window, retries, url_verification, acking
before slow work, and malformed or oversized bodies."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bots.sandbox.slack_api import FakeSlack
from tests.slack_requests import (
    AGENT,
    CHAN,
    CUSTOMER,
    OTHER,
    ROOT_TS,
    block_action,
    channel,
    deliver,
    post_form,
    post_json,
    reaction,
    serve,
    sign,
    slack_client,
    slack_fake,
    survey,
    surveys,
    thread_reply,
)

fake = pytest.fixture(slack_fake)
client = pytest.fixture(slack_client)


async def test_retry_delivery_is_acknowledged_and_ignored(client: TestClient, fake: FakeSlack) -> None:
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    await post_json(client, reaction("Ev0DUP0001"))
    assert (await post_json(client, reaction("Ev0DUP0001"), retry))[0] == 200
    await deliver(client)
    assert len(fake.of("chat.postMessage")) == 1
    sid = (await survey(client)).id
    msg = {"ts": "1700000000.000001", "thread_ts": ROOT_TS, "channel": CHAN}
    await post_form(client, block_action(CUSTOMER, f"{sid}:10", "nps_score_10", msg))
    await deliver(client)
    # "Also send to channel" replies arrive as subtype thread_broadcast; they are the customer's words too.
    comment = thread_reply("Great", "Ev0DUP0002")
    comment["event"]["subtype"] = "thread_broadcast"
    await post_json(client, comment)
    assert (await post_json(client, comment, {**retry, "X-Slack-Retry-Num": "2"}))[0] == 200
    await deliver(client)
    texts = [c.params["text"] for c in fake.of("chat.postMessage")]
    assert texts.count("Thank you for your feedback!") == 1
    row = await survey(client)
    assert (row.state, row.score, row.comment) == ("completed", 10, "Great")


async def test_signature_and_staleness(client: TestClient) -> None:
    assert (await post_json(client, reaction(), ts=int(time.time()) - 301))[0] == 401
    assert (await post_json(client, reaction(), secret="wrong-secret"))[0] == 401
    resp = await client.post(
        "/slack/desk/events", data=json.dumps(reaction()), headers={"Content-Type": "application/json"}
    )
    assert resp.status == 401
    assert (await client.post("/slack/nope/events", data="{}")).status == 404
    assert await survey(client) is None


async def test_url_verification(client: TestClient) -> None:
    challenge = {
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
    status, text = await post_json(client, challenge)
    assert status == 200 and "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in text


async def test_events_and_commands_are_acknowledged_before_slow_work(client: TestClient, fake: FakeSlack) -> None:
    """Slack retries what is not answered within 3 s: the answer must not wait for any Web API call."""
    assert len(fake.of("auth.test")) == 1  # the bot identity was learned at start, not on a request
    gate = asyncio.Event()
    for method in ("users.info", "conversations.replies", "chat.postEphemeral"):
        fake.held[method] = gate  # the Web API answers nothing until the gate opens
    body = json.dumps(reaction())
    resp = await client.post(
        "/slack/desk/events", data=body, headers={"Content-Type": "application/json", **sign(body)}
    )
    assert resp.status == 200
    command = {"command": "/nps-close", "text": f"<@{OTHER}>", "channel_id": "CSECOND", "user_id": AGENT,
               "trigger_id": "999.888.slow", "response_url": fake.base.replace("/api/", "/response/9")}  # fmt: skip
    form = urllib.parse.urlencode(command)
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(form)}
    resp = await client.post("/slack/desk/events", data=form, headers=headers)
    assert resp.status == 200
    assert fake.of("conversations.replies") and await survey(client) is None  # answered while the work waits
    gate.set()
    await channel(client).idle()
    assert {(r.user_id, r.conversation_id) for r in await surveys(client)} == {(CUSTOMER, CHAN), (OTHER, "CSECOND")}
    assert fake.of("response_url")[0].params["text"] == f"Survey sent to <@{OTHER}>."
    assert len(fake.of("auth.test")) == 1


async def test_slack_unreachable_at_start_loses_no_event(tmp_path, fake: FakeSlack, clock) -> None:
    fake.errors["auth.test"] = "service_unavailable"  # at start: logged, the server still comes up
    async with serve(tmp_path, fake, clock) as client:
        fake.errors["auth.test"] = "ratelimited"  # on the first event: 500, so Slack delivers it again
        assert (await post_json(client, reaction("Ev0LATE001")))[0] == 500
        assert await survey(client) is None
        retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}
        assert (await post_json(client, reaction("Ev0LATE001"), retry))[0] == 200
        assert (await survey(client)).user_id == CUSTOMER
        assert (await post_json(client, reaction("Ev0LATE002")))[0] == 200
    assert len(fake.of("auth.test")) == 3  # start, the failed event, its retry; then remembered


async def test_bad_input_is_refused_clearly_and_the_server_keeps_running(client: TestClient) -> None:
    async def post(body: bytes, content_type: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        h = {"Content-Type": content_type, **(headers if headers is not None else sign(body.decode("latin-1")))}
        resp = await client.post("/slack/desk/events", data=body, headers=h)
        return resp.status, await resp.json()

    assert await post(b'{"type": "event_callback", "event": ', "application/json") == (
        400, {"error": "malformed JSON: Expecting value at position 36"}
    )  # fmt: skip
    assert (await post(b"[1, 2]", "application/json"))[0] == 400
    assert (await post(b'{"type": "event_callback", "event": "x", "event_id": "Ev1"}', "application/json"))[0] == 400
    form = "application/x-www-form-urlencoded"
    assert (await post(b"payload=%7Bnot-json", form))[0] == 400
    assert (await post(b"payload=" + urllib.parse.quote('{"type": "block_actions", "actions": 1}').encode(), form)) == (
        400, {"error": "malformed Slack request: not the shape of a Slack payload"}
    )  # fmt: skip
    # Slack signs UTF-8 text, so bytes that are not UTF-8 cannot carry a valid signature, even a correct HMAC.
    assert (await post(b"\xff\xfe{}", "application/json", sign(b"\xff\xfe{}")))[0] == 401
    # Unsigned garbage is refused before anything reads it; so is a timestamp that is not a number.
    assert (await post(b"\xff{{{", "application/json", {}))[0] == 401
    bad_stamp = {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"}
    assert (await post(b"{}", "application/json", bad_stamp))[0] == 401
    huge = json.dumps(reaction() | {"padding": "x" * 5000})
    status, error = await post(huge.encode(), "application/json")
    assert (status, error) == (413, {"error": "request body too large"})
    assert await survey(client) is None
    assert (await post_json(client, reaction()))[0] == 200
    assert (await survey(client)).user_id == CUSTOMER


async def test_a_repeated_action_counts_once(client: TestClient, fake: FakeSlack) -> None:
    await post_json(client, reaction())
    await deliver(client)
    sid = (await survey(client)).id
    msg = {"ts": "1700000000.000001", "thread_ts": ROOT_TS, "channel": CHAN}
    tap = block_action(CUSTOMER, f"{sid}:8", "nps_score_8", msg, "1700000300.000001")
    await post_form(client, tap)
    assert (await post_form(client, tap))[0] == 200  # the same (action_ts, user): a duplicate, silently
    assert fake.of("chat.postEphemeral") == []
    # The same action_ts from someone else is a different tap (the key includes the user).
    await post_form(client, block_action(OTHER, f"{sid}:1", "nps_score_1", msg, "1700000300.000001"))
    assert [c.params["user"] for c in fake.of("chat.postEphemeral")] == [OTHER]
    # A later tap by the customer is a new action: told the score is already in, nothing changes.
    await post_form(client, block_action(CUSTOMER, f"{sid}:3", "nps_score_3", msg, "1700000301.000001"))
    assert fake.of("chat.postEphemeral")[-1].params["user"] == CUSTOMER
    await deliver(client)
    assert len(fake.of("chat.update")) == 1
    assert len([c for c in fake.of("chat.postMessage") if c.params["text"].startswith("Thanks for the 8")]) == 1
    assert (await survey(client)).score == 8
