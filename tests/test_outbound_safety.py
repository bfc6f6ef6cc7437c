"""What leaves the server: no outbound request follows a redirect (webhook deliveries, event subscriptions, alerts,
Chatwoot, the Telegram Bot API through aiogram, the Slack Web API through slack_sdk); a customer-chosen id can't
pick an alert's host; and what another host answered never lands in `last_error`. The sandbox's fake Bot API,
Web API and bridge (which also stands in for Chatwoot's API) on 127.0.0.1, told to misbehave."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.bridge import FakeBridge
from bots.sandbox.slack_api import FakeSlack
from bots.sandbox.telegram_api import FakeTelegram
from core.store.tables import OutboxRow, SurveyRow
from core.types import Address, ConversationClosed, ScoreGiven, TextReceived
from tests.telegram_app import make_config as telegram_config
from tests.telegram_app import telegram_fake

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SUB_SECRET = "whsec_" + "U1VCU1VCU1VCU1VCU1VCU1VCU1VCU1VCU1VCU1VC"
LEAK = "LEAKED-BODY-7f3a"  # what a hostile or broken endpoint says; must never reach last_error
REDIRECTS = (301, 302, 303, 307, 308)

telegram = pytest.fixture(telegram_fake)


@pytest.fixture
async def recorder() -> AsyncIterator[FakeBridge]:
    """Where redirects point: must hear nothing, whatever the method."""
    r = await FakeBridge().start()
    yield r
    await r.close()


@pytest.fixture
async def bridge() -> AsyncIterator[FakeBridge]:
    """The bridge (or Chatwoot) the profile is configured with; tests make it misbehave."""
    b = await FakeBridge().start()
    yield b
    await b.close()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    s = await FakeSlack().start()
    yield s
    await s.close()


def misbehave(fake: Any, status: int, recorder: FakeBridge | None = None, body: bytes | None = None) -> None:
    """Every answer `status` with a body (and a reason phrase) holding LEAK; a 3xx points at `recorder`."""
    body = f'{{"error": "{LEAK}"}}'.encode() if body is None else body
    fake.misbehave(status, body, redirect_to=recorder.base if recorder else None, reason=LEAK)


@asynccontextmanager
async def running(tmp_path: Any, clock: Any, profiles: dict[str, Any]) -> AsyncIterator[Runtime]:
    cfg = {"database_url": f"sqlite:///{tmp_path / 'out.db'}", "profiles": profiles}
    runtime = Runtime(parse_config(cfg, env={}), clock=clock)
    await runtime.store.migrate()
    try:
        yield runtime
    finally:
        await runtime.stop()


async def outbox(runtime: Runtime) -> list[Any]:
    async with runtime.store.read() as conn:
        return list((await conn.execute(select(OutboxRow.__table__).order_by(OutboxRow.id))).all())


async def survey(runtime: Runtime) -> Any:
    async with runtime.store.read() as conn:
        return (await conn.execute(select(SurveyRow.__table__))).one()


async def detractor(runtime: Runtime, address: Address) -> None:
    """Close, score 0, comment: a question, the comment question, thanks, an alert and events all go out."""
    await runtime.service.handle(ConversationClosed(address, agent="ana", customer_name="Jo"))
    await runtime.service.handle(ScoreGiven(address, 0, actor_id=address.user_id))
    await runtime.service.handle(TextReceived(address, "too slow"))
    await runtime.worker.drain()


def webhook_profile(bridge: FakeBridge, destination: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "brand": "Acme",
        "policy": {"throttle": "0s"},
        "channels": {"webhook": {"secrets": [SECRET], "deliver_url": bridge.url("/deliver")}},
        "alerts": [{"channel": "webhook", "destination": destination or bridge.url("/alerts/") + "{conversation_id}"}],
        "subscriptions": [{"url": bridge.url("/zap"), "secret": SUB_SECRET}],
        **extra,
    }


def chatwoot_profile(chatwoot: FakeBridge) -> dict[str, Any]:
    chatwoot_config = {
        "base_url": chatwoot.base,
        "account_id": 1,
        "api_token": "cw-api-token",
        "webhook_token": "t" * 16,
    }
    return {"brand": "Acme", "policy": {"throttle": "0s"}, "channels": {"chatwoot": chatwoot_config}}


@pytest.mark.parametrize("status", REDIRECTS)
async def test_webhook_alert_and_event_deliveries_never_follow_a_redirect(
    tmp_path, clock, bridge: FakeBridge, recorder: FakeBridge, status: int
) -> None:
    misbehave(bridge, status, recorder)
    async with running(tmp_path, clock, {"acme": webhook_profile(bridge)}) as runtime:
        await detractor(runtime, Address("webhook", "acme", "c1", "u1"))
        rows = await outbox(runtime)
        assert (await survey(runtime)).state == "completed"
    assert recorder.heard == []  # the redirect target heard nothing: no signed body, no secret
    assert {r.raw_path.split("/")[1] for r in bridge.heard} == {"deliver", "alerts", "zap"}
    assert rows and all(r.status == "dead" and r.last_error == f"{status} redirect refused" for r in rows)


@pytest.mark.parametrize("status", REDIRECTS)
async def test_chatwoot_api_token_never_follows_a_redirect(
    tmp_path, clock, bridge: FakeBridge, recorder: FakeBridge, status: int
) -> None:
    misbehave(bridge, status, recorder)
    async with running(tmp_path, clock, {"desk": chatwoot_profile(bridge)}) as runtime:
        await runtime.service.handle(ConversationClosed(Address("chatwoot", "desk", "10", "12")))
        await runtime.worker.drain()
        [row] = await outbox(runtime)
    [asked] = bridge.heard
    assert asked.raw_path == "/api/v1/accounts/1/conversations/10/messages"
    assert asked.headers["api_access_token"] == "cw-api-token"
    assert recorder.heard == []
    assert (row.status, row.last_error) == ("dead", f"{status} redirect refused")


async def test_telegram_bot_api_redirect_is_refused(
    tmp_path, clock, telegram: FakeTelegram, recorder: FakeBridge
) -> None:
    """aiogram's own session: the bot token is in the URL path, so a followed redirect would hand it over."""
    misbehave(telegram, 307, recorder)
    async with running(tmp_path, clock, telegram_config(tmp_path, telegram)["profiles"]) as runtime:
        await runtime.service.handle(ConversationClosed(Address("telegram", "shop", "5151", "5151")))
        await runtime.worker.drain()
        [row] = await outbox(runtime)
    assert [c.method for c in telegram.calls] == ["sendMessage"]
    assert recorder.heard == []
    assert "307 redirect refused" in row.last_error and LEAK not in row.last_error
    assert (row.status, row.attempts) == ("dead", 1)  # final at once, not retried until attempts run out


async def test_slack_web_api_redirect_is_refused(tmp_path, clock, slack: FakeSlack, recorder: FakeBridge) -> None:
    """slack_sdk's client (and bolt's per-request clients, which share its session)."""
    misbehave(slack, 302, recorder)
    slack_config = {"bot_token": "xoxb-test-token", "signing_secret": "8f742231b10e8888abcd99yyyzzz85a5"}
    profile = {
        "brand": "Acme",
        "policy": {"throttle": "0s"},
        "channels": {"slack": slack_config | {"api_base": slack.base}},
    }
    async with running(tmp_path, clock, {"desk": profile}) as runtime:
        await runtime.service.handle(ConversationClosed(Address("slack", "desk", "D0CUSTOMER", "U0CUSTOMER")))
        await runtime.worker.drain()
        [row] = await outbox(runtime)
        bolt_client = runtime.channel("slack", "desk").app.client  # type: ignore[attr-defined]
        with pytest.raises(Exception, match="302 redirect refused"):
            await bolt_client.auth_test(token="xoxb-test-token")
    assert [c.method for c in slack.calls] == ["chat.postMessage", "auth.test"]
    assert recorder.heard == []
    assert (row.status, row.last_error) == ("dead", "302 redirect refused")


@pytest.mark.parametrize("status", [400, 403, 422, 500, 503])
async def test_webhook_and_subscriber_answers_stay_out_of_last_error(
    tmp_path, clock, bridge: FakeBridge, status: int
) -> None:
    misbehave(bridge, status)
    async with running(tmp_path, clock, {"acme": webhook_profile(bridge)}) as runtime:
        await detractor(runtime, Address("webhook", "acme", "c1", "u1"))
        rows = await outbox(runtime)
    tried = [r for r in rows if r.attempts]  # a retried question holds back the rest of its conversation
    assert {r.kind for r in tried} >= {"ask_score", "detractor_alert", "event_notice"}
    for r in tried:
        assert LEAK not in r.last_error and "127.0.0.1" not in r.last_error and len(r.last_error) <= 200
        assert str(status) in r.last_error


@pytest.mark.parametrize("status", [401, 404, 422, 500])
async def test_chatwoot_answers_stay_out_of_last_error(tmp_path, clock, bridge: FakeBridge, status: int) -> None:
    misbehave(bridge, status)
    async with running(tmp_path, clock, {"desk": chatwoot_profile(bridge)}) as runtime:
        await runtime.service.handle(ConversationClosed(Address("chatwoot", "desk", "10", "12")))
        await runtime.worker.drain()
        [row] = await outbox(runtime)
    assert row.last_error.startswith(str(status)) and LEAK not in row.last_error


async def test_a_bot_api_answer_that_is_not_json_stays_out_of_last_error(
    tmp_path, clock, telegram: FakeTelegram
) -> None:
    """aiogram quotes an undecodable body in its error; the worker keeps only the error's kind."""
    misbehave(telegram, 502, body=f"<html><body>{LEAK} bad gateway</body></html>".encode())
    async with running(tmp_path, clock, telegram_config(tmp_path, telegram)["profiles"]) as runtime:
        await runtime.service.handle(ConversationClosed(Address("telegram", "shop", "5151", "5151")))
        await runtime.worker.drain()
        [row] = await outbox(runtime)
    assert row.status == "pending" and row.last_error.startswith("ClientDecodeError") and LEAK not in row.last_error


async def test_alert_path_placeholder_is_one_encoded_segment(tmp_path, clock, bridge: FakeBridge) -> None:
    link = "https://desk.example.com/c/{conversation_id}"
    async with running(tmp_path, clock, {"acme": webhook_profile(bridge, link_template=link)}) as runtime:
        await detractor(runtime, Address("webhook", "acme", "../../steal?x=1#", "u1"))
        assert (await survey(runtime)).state == "completed"
    [heard] = [h for h in bridge.heard if h.raw_path.startswith("/alerts/")]
    _, alerts, segment = heard.raw_path.split("/")  # one segment, whatever it holds
    assert alerts == "alerts" and unquote(segment) == "../../steal?x=1#"
    [alert] = [r for r in bridge.received if r.path.startswith("/alerts/")]
    assert alert.json["link"] == "https://desk.example.com/c/..%2F..%2Fsteal%3Fx%3D1%23"


@pytest.mark.parametrize(
    "destination,conversation",
    [
        ("http://{conversation_id}/alerts", "{recorder}"),  # the placeholder is the host
        ("http://127.0.0.1:{conversation_id}/alerts", "{recorder_port}"),  # ... or the port
        ("{conversation_id}", "http://{recorder}/alerts"),  # the whole URL
        ("{endpoint}/alerts/{conversation_id}", ".."),  # a segment that would climb out of the path
    ],
)
async def test_a_conversation_id_cannot_choose_the_alert_host(
    tmp_path, clock, bridge: FakeBridge, recorder: FakeBridge, destination: str, conversation: str
) -> None:
    host = recorder.base.removeprefix("http://")
    fill = {"recorder": host, "recorder_port": host.rsplit(":", 1)[1], "endpoint": bridge.base}
    destination = destination.replace("{endpoint}", fill["endpoint"])
    conversation = conversation.format(**fill)
    async with running(tmp_path, clock, {"acme": webhook_profile(bridge, destination)}) as runtime:
        await detractor(runtime, Address("webhook", "acme", conversation, "u1"))
        assert (await survey(runtime)).state == "completed"  # the refusal costs the alert, not the survey
        [alert] = [r for r in await outbox(runtime) if r.kind == "detractor_alert"]
    assert recorder.heard == []
    assert not [r for r in bridge.received if r.json["type"] == "detractor_alert"]
    assert alert.status == "dead" and alert.last_error.startswith("alert destination refused")
    assert conversation not in alert.last_error
