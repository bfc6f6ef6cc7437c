"""The Slack channel over the wire: real AsyncWebClient ↔ fake Web API; inbound requests signed as Slack signs."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from core.store.tables import OutboxRow, SurveyRow
from tests.fakes.slack_api import FakeSlack

SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"
CHAN, AGENT, CUSTOMER, OTHER = "C0SUPPORT", "UAGENT01", "UCUST001", "UOTHER01"
ROOT_TS = "1699999999.000100"
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


@pytest.fixture
async def client(tmp_path, fake: FakeSlack, clock):
    cfg = {
        "database_url": f"sqlite:///{tmp_path / 'slack.db'}",
        "profiles": {
            "desk": {
                "brand": "Acme",
                "policy": {"throttle": "0s"},
                "channels": {
                    "slack": {"bot_token": "xoxb-test-token", "signing_secret": SIGNING, "api_base": fake.base}
                },
                "alerts": [{"channel": "slack", "destination": "CLEADS"}],
            }
        },
    }
    runtime = Runtime(parse_config(cfg, env={}), clock=clock)
    await runtime.store.migrate()
    async with TestClient(TestServer(create_app(runtime))) as c:
        c.runtime = runtime  # type: ignore[attr-defined]
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
    await post_json(client, reaction("Ev0DUP0001"))
    status, _ = await post_json(
        client, reaction("Ev0DUP0001"), {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert status == 200
    await deliver(client)
    assert len(fake.of("chat.postMessage")) == 1


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
