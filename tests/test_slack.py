"""The Slack channel over the wire: real AsyncWebClient ↔ fake Web API; inbound requests signed as Slack signs."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from adapters.slack.sender import SlackSender
from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from core.delivery import DeliveryError, PermanentFailure, RetryLater
from core.store.outbox import OutboxItem
from core.store.tables import OutboxRow, SurveyRow
from tests.fakes.slack_api import FakeSlack

SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"
CHAN, AGENT, CUSTOMER, OTHER = "C0SUPPORT", "UAGENT01", "UCUST001", "UOTHER01"
ROOT_TS = "1699999999.000100"
ADMIN = "admin-token-for-tests"
# https://api.slack.com/events/message.im, the example as published (a DM has channel_type "im").
MESSAGE_IM = {
    "token": "one-long-verification-token",
    "team_id": "T061EG9R6",
    "api_app_id": "A0PNCHHK2",
    "event": {
        "type": "message",
        "channel": "D024BE91L",
        "user": "U2147483697",
        "text": "Hello hello can you hear me?",
        "ts": "1355517523.000005",
        "event_ts": "1355517523.000005",
        "channel_type": "im",
    },
    "type": "event_callback",
    "authed_teams": ["T061EG9R6"],
    "event_id": "Ev0PV52K21",
    "event_time": 1355517523,
}
S = SurveyRow.__table__


def sign(body: str, ts: int | None = None, secret: str = SIGNING) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


@pytest.fixture
async def fake():
    f = await FakeSlack().start()
    yield f
    await f.close()


@asynccontextmanager
async def serve(tmp_path: Path, fake: FakeSlack, clock: Any, **profile: Any) -> AsyncIterator[TestClient]:
    """The whole app (one `desk` profile with Slack) on a test server; `profile` overrides profile keys."""
    slack = {"bot_token": "xoxb-test-token", "signing_secret": SIGNING, "api_base": fake.base}
    desk = {
        "brand": "Acme",
        "policy": {"throttle": "0s"},
        "channels": {"slack": slack | profile.pop("slack", {})},
        "alerts": [{"channel": "slack", "destination": "CLEADS"}],
    }
    cfg = {
        "database_url": f"sqlite:///{tmp_path / 'slack.db'}",
        "admin_tokens": [ADMIN],
        "server": {"max_body_bytes": 4096},
        "profiles": {"desk": desk | profile},
    }
    runtime = Runtime(parse_config(cfg, env={}), clock=clock)
    await runtime.store.migrate()
    async with TestClient(TestServer(create_app(runtime))) as c:
        c.runtime = runtime  # type: ignore[attr-defined]
        yield c


@pytest.fixture
async def client(tmp_path, fake: FakeSlack, clock):
    async with serve(tmp_path, fake, clock) as c:
        yield c


def channel(client: TestClient) -> Any:
    return client.runtime.channel("slack", "desk")  # type: ignore[attr-defined]


async def post_json(client: TestClient, payload: dict, headers: dict[str, str] | None = None, **sign_kw: Any) -> Any:
    body = json.dumps(payload)
    h = {"Content-Type": "application/json", **sign(body, **sign_kw), **(headers or {})}
    resp = await client.post("/slack/desk/events", data=body, headers=h)
    text = await resp.text()
    await channel(client).idle()
    return resp.status, text


async def post_form(client: TestClient, form: dict[str, str], **sign_kw: Any) -> Any:
    body = urllib.parse.urlencode(form)
    h = {"Content-Type": "application/x-www-form-urlencoded", **sign(body, **sign_kw)}
    resp = await client.post("/slack/desk/events", data=body, headers=h)
    text = await resp.text()
    await channel(client).idle()
    return resp.status, text


def event(inner: dict, event_id: str) -> dict:
    return {
        "token": "one-long-verification-token",
        "team_id": "T061EG9R6",
        "api_app_id": "A0PNCHHK2",
        "event": inner,
        "type": "event_callback",
        "authed_teams": ["T061EG9R6"],
        "event_id": event_id,
        "event_time": 1699999999,
    }


def reaction(event_id: str = "Ev0REACT01", user: str = AGENT) -> dict:
    item = {"type": "message", "channel": CHAN, "ts": ROOT_TS}
    inner = {
        "type": "reaction_added",
        "user": user,
        "reaction": "white_check_mark",
        "item_user": CUSTOMER,
        "item": item,
    }
    return event(inner | {"event_ts": "1700000100.000200"}, event_id)


def thread_reply(text: str, event_id: str, user: str = CUSTOMER) -> dict:
    inner = {"type": "message", "channel": CHAN, "user": user, "text": text, "ts": f"1700000200.{event_id[-4:]}",
             "thread_ts": ROOT_TS, "channel_type": "channel", "event_ts": "1700000200.000001"}  # fmt: skip
    return event(inner, event_id)


def block_action(user: str, value: str, action_id: str, message: dict, action_ts: str = "1700000300.000001") -> dict:
    payload = {
        "type": "block_actions",
        "team": {"id": "T9TK3CUKW", "domain": "example"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T9TK3CUKW"},
        "api_app_id": "AABA1ABCD",
        "token": "9s8d9as89d8as9d8as989",
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": CHAN, "is_ephemeral": False},
        "trigger_id": "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
        "channel": {"id": message.get("channel", CHAN), "name": "support"},
        "message": {"type": "message", "bot_id": "BAH5CA16Z", "user": "UBOT", **message},
        "response_url": "https://hooks.slack.com/actions/AABA1ABCD/1232321423432/D09sSasdasdAS9091209",
        "actions": [
            {
                "action_id": action_id,
                "block_id": "b1",
                "text": {"type": "plain_text", "text": "x"},
                "value": value,
                "type": "button",
                "action_ts": action_ts,
            }
        ],
    }
    return {"payload": json.dumps(payload)}


async def deliver(client: TestClient) -> None:
    await client.runtime.worker.drain()  # type: ignore[attr-defined]


async def surveys(client: TestClient) -> list[Any]:
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        return list(await conn.execute(select(S).order_by(S.c.id)))


async def survey(client: TestClient) -> Any:
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        return (await conn.execute(select(S).order_by(S.c.id.desc()))).first()


async def test_full_loop_in_a_thread(client: TestClient, fake: FakeSlack) -> None:
    fake.locales[CUSTOMER] = "es-ES"
    assert (await post_json(client, reaction()))[0] == 200
    await deliver(client)
    [question] = fake.of("chat.postMessage")
    p = question.params
    assert p["channel"] == CHAN and p["thread_ts"] == ROOT_TS and question.token == "Bearer xoxb-test-token"
    assert p["text"].startswith("¿Qué probabilidad hay de que recomiendes Acme")
    buttons = [e for b in p["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["text"]["text"] for b in buttons] == [str(n) for n in range(11)]
    assert p["blocks"][-1]["elements"][0]["text"] == "0 = Nada probable · 10 = Muy probable"
    row = await survey(client)
    assert (row.state, row.agent, row.user_id, row.thread, row.locale) == ("asked", AGENT, CUSTOMER, ROOT_TS, "es")

    msg = {"ts": "1700000000.000001", "thread_ts": ROOT_TS, "channel": CHAN, "blocks": p["blocks"]}
    nine = next(b for b in buttons if b["text"]["text"] == "9")
    assert (await post_form(client, block_action(CUSTOMER, nine["value"], nine["action_id"], msg)))[0] == 200
    await deliver(client)
    [update] = fake.of("chat.update")
    assert update.params["ts"] == "1700000000.000001" and update.params["text"] == "Elegiste 9"
    assert [b["type"] for b in update.params["blocks"]] == ["section"]  # the buttons are gone
    follow = fake.of("chat.postMessage")[1].params
    assert follow["thread_ts"] == ROOT_TS and follow["text"].startswith("¡Gracias por el 9!")

    assert (await post_json(client, thread_reply("Muy rápidos y amables", "Ev0MSG0001")))[0] == 200
    await deliver(client)
    assert fake.of("chat.postMessage")[-1].params["text"] == "¡Gracias por tu opinión!"
    row = await survey(client)
    assert (row.state, row.score, row.comment) == ("completed", 9, "Muy rápidos y amables")


async def test_comment_through_the_modal(client: TestClient, fake: FakeSlack) -> None:
    await post_json(client, reaction())
    await deliver(client)
    sid = (await survey(client)).id
    msg = {"ts": "1700000000.000001", "thread_ts": ROOT_TS, "channel": CHAN}
    await post_form(client, block_action(CUSTOMER, f"{sid}:6", "nps_score_6", msg))
    await deliver(client)
    follow_msg = {"ts": "1700000000.000002", "thread_ts": ROOT_TS, "channel": CHAN}
    await post_form(client, block_action(CUSTOMER, str(sid), "nps_comment", follow_msg, "1700000400.1"))
    [opened] = fake.of("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == "nps_comment_modal" and view["title"]["text"] == "Your comment"
    submission = {
        "type": "view_submission",
        "team": {"id": "T1234567", "domain": "example-domain"},
        "user": {"id": CUSTOMER, "username": "cust"},
        "view": {
            "id": "VNHU13V36",
            "type": "modal",
            "callback_id": "nps_comment_modal",
            "private_metadata": view["private_metadata"],
            "state": {"values": {"comment": {"text": {"type": "plain_text_input", "value": "Took two days"}}}},
            "hash": "156663117.cd33ad1f",
            "blocks": [],
        },
    }
    status, _ = await post_form(client, {"payload": json.dumps(submission)})
    assert status == 200
    await deliver(client)
    row = await survey(client)
    assert (row.score, row.comment, row.state) == (6, "Took two days", "completed")
    alert = [c for c in fake.of("chat.postMessage") if c.params["channel"] == "CLEADS"]
    assert len(alert) == 1 and "Detractor (6/10)" in alert[0].params["text"]


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


async def test_tap_by_someone_else_is_ignored_with_an_ephemeral_note(client: TestClient, fake: FakeSlack) -> None:
    await post_json(client, reaction())
    sid = (await survey(client)).id
    msg = {"ts": "1700000000.000001", "thread_ts": ROOT_TS, "channel": CHAN}
    await post_form(client, block_action(OTHER, f"{sid}:0", "nps_score_0", msg))
    [note] = fake.of("chat.postEphemeral")
    assert note.token == "Bearer xoxb-test-token"
    assert (
        note.params["user"] == OTHER and note.params["text"] == "This survey is for the customer in this conversation."
    )
    assert (await survey(client)).state == "asked"


async def test_customer_cannot_close_own_thread_and_bot_messages_are_ignored(
    client: TestClient, fake: FakeSlack
) -> None:
    await post_json(client, reaction("Ev0SELF001", user=CUSTOMER))
    assert await survey(client) is None
    bot = event(
        {"type": "message", "channel": CHAN, "bot_id": "B1", "subtype": "bot_message", "text": "9", "ts": "1.2"},
        "Ev0BOT0001",
    )
    assert (await post_json(client, bot))[0] == 200


async def test_slash_command_and_message_shortcut_close(client: TestClient, fake: FakeSlack) -> None:
    form = {
        "token": "gIkuvaNzQIHg97ATvDxqgjtO", "team_id": "T0001", "team_domain": "example", "channel_id": CHAN,
        "channel_name": "support", "user_id": AGENT, "user_name": "agent", "command": "/nps-close",
        "text": f"<@{CUSTOMER}|cust>", "response_url": fake.base.replace("/api/", "/response/1"),
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
    }  # fmt: skip
    assert (await post_form(client, form | {"text": "please"}))[0] == 200
    assert await survey(client) is None
    assert fake.of("response_url")[0].params["text"] == "Usage: /nps-close @customer"
    fake.calls.clear()
    assert (await post_form(client, form))[0] == 200
    row = await survey(client)
    assert (row.user_id, row.thread, row.agent) == (CUSTOMER, None, AGENT)
    assert fake.of("response_url")[0].params["text"] == f"Survey sent to <@{CUSTOMER}>."
    shortcut = {
        "type": "message_action", "callback_id": "nps_close", "trigger_id": "1234.5678.abcd",
        "team": {"id": "T0001", "domain": "example"}, "user": {"id": AGENT, "name": "agent"},
        "channel": {"id": "CSECOND", "name": "vip"}, "response_url": fake.base.replace("/api/", "/response/2"),
        "message": {"type": "message", "user": OTHER, "ts": "1699999000.000500", "text": "it works now"},
    }  # fmt: skip
    assert (await post_form(client, {"payload": json.dumps(shortcut)}))[0] == 200
    row = await survey(client)
    assert (row.user_id, row.conversation_id, row.thread) == (OTHER, "CSECOND", "1699999000.000500")


async def test_429_from_slack_is_retried_after_retry_after(client: TestClient, fake: FakeSlack, clock) -> None:
    fake.rate_limited["chat.postMessage"] = 12
    await post_json(client, reaction())
    await deliver(client)
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        row = (await conn.execute(select(OutboxRow.__table__))).one()
    assert row.status == "pending" and (row.next_attempt_at - clock()).total_seconds() == 12
    clock.advance(seconds=12)
    await deliver(client)
    assert len(fake.of("chat.postMessage")) == 2 and (await survey(client)).state == "asked"


async def test_channel_not_found_marks_the_customer(client: TestClient, fake: FakeSlack) -> None:
    fake.errors["chat.postMessage"] = "channel_not_found"
    await post_json(client, reaction())
    await deliver(client)
    row = await survey(client)
    assert (row.state, row.skip_reason) == ("skipped", "unreachable")


async def test_alert_claim_and_resolve(client: TestClient, fake: FakeSlack) -> None:
    await post_json(client, reaction())
    sid = (await survey(client)).id
    msg = {"ts": "1700000000.000001", "thread_ts": ROOT_TS, "channel": CHAN}
    await post_form(client, block_action(CUSTOMER, f"{sid}:2", "nps_score_2", msg))
    await post_json(client, thread_reply("Nobody answered", "Ev0MSG0002"))
    await deliver(client)
    [alert] = [c for c in fake.of("chat.postMessage") if c.params["channel"] == "CLEADS"]
    blocks = alert.params["blocks"]
    actions = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["nps_claim", "nps_resolve"]
    alert_msg = {"ts": "1700000500.000001", "channel": "CLEADS", "blocks": blocks}
    await post_form(client, block_action("ULEAD001", str(sid), "nps_claim", alert_msg, "1700000600.1"))
    await post_form(client, block_action("ULEAD001", str(sid), "nps_resolve", alert_msg, "1700000700.1"))
    updates = [c.params for c in fake.of("chat.update") if c.params["channel"] == "CLEADS"]
    assert [u["text"] for u in updates] == ["Claimed by ulead001", "Resolved by ulead001"]
    assert not [b for b in updates[-1]["blocks"] if b["type"] == "actions"]
    row = await survey(client)
    assert (row.claimed_by, row.resolved_by) == ("ulead001", "ulead001")


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


async def test_locale_falls_back_to_the_profile_default(tmp_path, fake: FakeSlack, clock) -> None:
    fake.errors["users.info"] = "user_not_found"
    async with serve(tmp_path, fake, clock, locale="de") as client:
        await post_json(client, reaction())
        await deliver(client)
    [lookup] = fake.of("users.info")
    assert lookup.params["user"] == CUSTOMER and lookup.params["include_locale"] in ("1", "true", True)
    [question] = fake.of("chat.postMessage")
    assert question.params["text"].startswith("Wie wahrscheinlich ist es, dass Sie Acme")
    assert question.params["blocks"][-1]["elements"][0]["text"] == "0 = Unwahrscheinlich · 10 = Sehr wahrscheinlich"


async def test_close_reaction_only_from_an_agent_on_the_thread_parent(tmp_path, fake: FakeSlack, clock) -> None:
    async with serve(tmp_path, fake, clock, slack={"agents": [AGENT], "close_reaction": "done"}) as client:

        def react(event_id: str, user: str, ts: str = ROOT_TS, name: str = "done") -> dict:
            body = reaction(event_id, user)
            body["event"]["reaction"], body["event"]["item"]["ts"] = name, ts
            return body

        await post_json(client, react("Ev0R1", OTHER))  # not a configured agent
        await post_json(client, react("Ev0R2", AGENT, name="white_check_mark"))  # not the configured reaction
        fake.parents["1700000050.000900"] = ROOT_TS
        await post_json(client, react("Ev0R3", AGENT, ts="1700000050.000900"))  # a reply inside the thread
        assert await survey(client) is None
        await post_json(client, react("Ev0R4", AGENT))
        row = await survey(client)
        assert (row.user_id, row.thread, row.agent) == (CUSTOMER, ROOT_TS, AGENT)
        assert [c.params["ts"] for c in fake.of("conversations.replies")] == ["1700000050.000900", ROOT_TS]


async def test_direct_message_loop_from_the_operator_api(tmp_path, fake: FakeSlack, clock) -> None:
    sample = MESSAGE_IM
    dm, customer = sample["event"]["channel"], sample["event"]["user"]
    # api_base without the trailing slash still reaches the fake's /api/ methods.
    async with serve(tmp_path, fake, clock, slack={"api_base": fake.base.rstrip("/")}) as client:
        body = {"profile": "desk", "channel": "slack", "conversation_id": dm, "user_id": customer, "agent": "Marta"}
        resp = await client.post("/api/v1/conversations/close", json=body, headers={"Authorization": f"Bearer {ADMIN}"})
        assert resp.status == 200
        await deliver(client)
        [question] = fake.of("chat.postMessage")
        assert question.params["channel"] == dm and "thread_ts" not in question.params
        answer = json.loads(json.dumps(sample))
        answer["event"]["text"] = "nine"
        assert (await post_json(client, answer))[0] == 200
        await deliver(client)
        comment = json.loads(json.dumps(sample))
        comment["event_id"], comment["event"]["ts"] = "Ev0PV52K22", "1355517524.000001"
        await post_json(client, comment)
        await deliver(client)
        texts = [c.params["text"] for c in fake.of("chat.postMessage")]
        assert texts[1].startswith("Thank you for the 9!") and texts[-1] == "Thank you for your feedback!"
        assert all(c.params["channel"] == dm and "thread_ts" not in c.params for c in fake.of("chat.postMessage"))
        row = await survey(client)
        assert (row.state, row.score, row.comment) == ("completed", 9, "Hello hello can you hear me?")


async def test_bad_input_is_refused_clearly_and_the_server_keeps_running(client: TestClient) -> None:
    async def post(body: bytes, content_type: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        h = {"Content-Type": content_type, **(headers if headers is not None else sign(body.decode("latin-1")))}
        resp = await client.post("/slack/desk/events", data=body, headers=h)
        return resp.status, await resp.json()

    def signed_bytes(body: bytes) -> dict[str, str]:
        stamp = str(int(time.time()))
        digest = hmac.new(SIGNING.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}

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
    assert (await post(b"\xff\xfe{}", "application/json", signed_bytes(b"\xff\xfe{}")))[0] == 401
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


async def test_comment_button_from_someone_else_opens_nothing(client: TestClient, fake: FakeSlack) -> None:
    await post_json(client, reaction())
    sid = (await survey(client)).id
    msg = {"ts": "1700000000.000001", "thread_ts": ROOT_TS, "channel": CHAN}
    await post_form(client, block_action(CUSTOMER, f"{sid}:7", "nps_score_7", msg))
    await post_form(client, block_action(OTHER, str(sid), "nps_comment", msg, "1700000400.1"))
    assert fake.of("views.open") == []
    [note] = fake.of("chat.postEphemeral")
    assert (note.params["user"], note.params["thread_ts"]) == (OTHER, ROOT_TS)
    assert note.params["text"] == "This survey is for the customer in this conversation."


async def test_shortcut_needs_an_agent_and_a_customer_message(client: TestClient, fake: FakeSlack) -> None:
    def shortcut(user: str, message: dict, n: int) -> dict[str, str]:
        body = {
            "type": "message_action", "callback_id": "nps_close", "trigger_id": f"1234.5678.{n}",
            "team": {"id": "T0001", "domain": "example"}, "user": {"id": user, "name": user.lower()},
            "channel": {"id": CHAN, "name": "support"}, "message": message,
            "response_url": fake.base.replace("/api/", f"/response/{n}"),
        }  # fmt: skip
        return {"payload": json.dumps(body)}

    own = {"type": "message", "user": CUSTOMER, "ts": "1699999000.000700", "text": "help"}
    assert (await post_form(client, shortcut(CUSTOMER, own, 1)))[0] == 200
    bot = {"type": "message", "bot_id": "B0BOT", "user": "UBOTUSER", "ts": "1699999000.000800", "text": "hi"}
    await post_form(client, shortcut(AGENT, bot, 2))
    assert await survey(client) is None
    assert [c.params["text"] for c in fake.of("response_url")] == [
        "Only support agents can close conversations.",
        "Use the shortcut on a message the customer wrote.",
    ]


def outbox_item(channel_id: str = CHAN) -> OutboxItem:
    payload = {"text": "Thanks!"}
    target = {"conversation_id": channel_id, "thread": ROOT_TS}
    return OutboxItem(1, "desk", "slack", "say", 1, target, payload, 0, datetime(2026, 3, 2, tzinfo=UTC))


@pytest.mark.parametrize(
    ("setup", "expected", "unreachable"),
    [
        ({"rate_limited": {"chat.postMessage": 7}}, RetryLater, False),
        ({"statuses": {"chat.postMessage": 503}}, DeliveryError, False),
        ({"errors": {"chat.postMessage": "internal_error"}}, DeliveryError, False),
        ({"errors": {"chat.postMessage": "channel_not_found"}}, PermanentFailure, True),
        ({"errors": {"chat.postMessage": "is_archived"}}, PermanentFailure, True),
        ({"errors": {"chat.postMessage": "invalid_auth"}}, PermanentFailure, False),
        ({"errors": {"chat.postMessage": "invalid_blocks"}}, PermanentFailure, False),
    ],
)
async def test_sender_classifies_slack_errors(fake: FakeSlack, setup: dict, expected: type, unreachable: bool) -> None:
    for name, value in setup.items():
        getattr(fake, name).update(value)
    sender = SlackSender(AsyncWebClient(token="xoxb-test-token", base_url=fake.base), "desk")
    with pytest.raises(DeliveryError) as raised:
        await sender.send(outbox_item())
    assert type(raised.value) is expected
    assert getattr(raised.value, "unreachable", False) is unreachable
    if expected is RetryLater:
        assert raised.value.retry_after == 7
    [call] = fake.of("chat.postMessage")
    assert (call.params["channel"], call.params["thread_ts"], call.params["text"]) == (CHAN, ROOT_TS, "Thanks!")
    assert await sender.send(outbox_item()) == f"{CHAN}:1700000000.000001"  # the fault was one-off
