"""The detractor loop end to end: what the alert carries on each channel, Claim / Resolved recorded with who and when
through real platform requests, the report's follow-up figures, and the promoter review invitation."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.telegram.keyboards import FollowUpAction
from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.bridge import FakeBridge
from bots.sandbox.slack_api import FakeSlack
from bots.sandbox.telegram_api import FakeTelegram
from core.reports import Filters
from core.reports.analytics import followup_stats
from tests import slack_requests as sl
from tests import telegram_app as tt
from tests import telegram_updates as tg
from tests.test_webhook import SECRET, closed, reply, send
from tests.webhook_signing import check

LINK = "https://desk.example.com/c/{conversation_id}"


async def start(cfg: dict, clock) -> TestClient:
    runtime = Runtime(parse_config(cfg, env={}), clock=clock)
    await runtime.store.migrate()
    client = TestClient(TestServer(create_app(runtime)))
    await client.start_server()
    client.runtime = runtime  # type: ignore[attr-defined]
    return client


async def stats(client: TestClient) -> dict[str, Any]:
    return await followup_stats(client.runtime.store, Filters())  # type: ignore[attr-defined]


slack_fake = pytest.fixture(sl.slack_fake)


@pytest.fixture
async def slack(tmp_path, slack_fake: FakeSlack, clock):
    cfg = {
        "database_url": f"sqlite:///{tmp_path / 'slack.db'}",
        "profiles": {
            "desk": {
                "brand": "Acme",
                "policy": {"throttle": "0s"},
                "link_template": LINK,
                "channels": {
                    "slack": {"bot_token": "xoxb-test-token", "signing_secret": sl.SIGNING, "api_base": slack_fake.base}
                },
                "alerts": [{"channel": "slack", "destination": "CLEADS"}],
            }
        },
    }
    client = await start(cfg, clock)
    yield client
    await client.close()


async def test_slack_alert_block_kit_and_buttons_record_who_and_when(slack: TestClient, slack_fake, clock) -> None:
    await sl.post_json(slack, sl.reaction())
    row = await sl.survey(slack)
    msg = {"ts": "1700000000.000001", "thread_ts": sl.ROOT_TS, "channel": sl.CHAN}
    await sl.post_form(slack, sl.block_action(sl.CUSTOMER, f"{row.id}:4", "nps_score_4", msg))
    await sl.post_json(slack, sl.thread_reply("Took a week to answer", "Ev0MSG0002"))
    await sl.deliver(slack)
    [alert] = [c for c in slack_fake.of("chat.postMessage") if c.params["channel"] == "CLEADS"]
    blocks = alert.params["blocks"]
    text = "\n".join(
        t for b in blocks for t in [b.get("text", {}).get("text", "")] + [f["text"] for f in b.get("fields", [])]
    ) + "\n".join(e.get("text", "") for b in blocks if b["type"] == "context" for e in b["elements"])
    row = await sl.survey(slack)
    assert "*Score*\n4/10" in text and "Took a week to answer" in text
    assert f"*Customer*\n{row.customer_name or row.user_id}" in text and f"*Agent*\n{row.agent}" in text
    assert row.agent and f"<https://desk.example.com/c/{row.conversation_id}|conversation>" in text
    assert await stats(slack) == {"open": 1, "claimed": 0, "resolved": 0, "median_seconds_to_resolve": None}

    completed = row.completed_at
    alert_msg = {"ts": "1700000500.000001", "channel": "CLEADS", "blocks": blocks}
    clock.advance(minutes=10)
    await sl.post_form(slack, sl.block_action("ULEAD001", str(row.id), "nps_claim", alert_msg, "1700000600.1"))
    row = await sl.survey(slack)
    assert (row.claimed_by, row.claimed_at, row.resolved_at) == ("ulead001", clock.now, None)
    assert (await stats(slack))["claimed"] == 1
    clock.advance(hours=3)
    await sl.post_form(slack, sl.block_action("UBOSS001", str(row.id), "nps_resolve", alert_msg, "1700000700.1"))
    row = await sl.survey(slack)
    assert (row.claimed_by, row.resolved_by, row.resolved_at) == ("ulead001", "uboss001", clock.now)
    s = await stats(slack)
    assert (s["open"], s["claimed"], s["resolved"]) == (0, 0, 1)
    assert s["median_seconds_to_resolve"] == pytest.approx((clock.now - completed).total_seconds())


@pytest.fixture
async def tg_fake():
    f = await FakeTelegram().start()
    yield f
    await f.close()


@pytest.fixture
async def telegram(tmp_path, tg_fake: FakeTelegram, clock):
    cfg = tt.make_config(tmp_path, tg_fake)
    cfg["profiles"]["shop"]["link_template"] = LINK
    client = await start(cfg, clock)
    yield client
    await client.close()


async def test_telegram_alert_inline_keyboard_and_callbacks_record_who_and_when(
    telegram: TestClient, tg_fake: FakeTelegram, clock
) -> None:
    customer = tg.user(4301, "Nadia", "en")
    asked = tg.message(tt.GROUP, customer, "still broken")
    await tt.post(telegram, tg.text_update(tt.GROUP, tt.AGENT, "/close", reply_to=asked))
    await tt.post(telegram, tg.text_update(tt.GROUP, customer, "5"))
    await tt.post(telegram, tg.text_update(tt.GROUP, customer, "Nobody read my messages"))
    await tt.deliver(telegram)
    row = await tt.survey_row(telegram)
    [alert] = tg_fake.of("sendMessage", tt.SUPPORT)
    text = alert.params["text"]
    assert "(5/10)" in text and "Nobody read my messages" in text and row.agent and row.agent in text
    assert (row.customer_name or row.user_id) in text and f"https://desk.example.com/c/{row.conversation_id}" in text
    buttons = alert.params["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons] == [
        FollowUpAction(s=row.id, a="c").pack(),
        FollowUpAction(s=row.id, a="r").pack(),
    ]
    message_id = alert.result["message_id"]
    clock.advance(minutes=5)
    await tt.post(
        telegram, tg.callback_update(tg.user(9, "Lea", "en"), tt.SUPPORT, message_id, buttons[0]["callback_data"])
    )
    row = await tt.survey_row(telegram)
    assert (row.claimed_by, row.claimed_at) == ("Lea Tomer", clock.now)
    clock.advance(hours=1)
    await tt.post(telegram, tg.callback_update(tt.AGENT, tt.SUPPORT, message_id, buttons[1]["callback_data"]))
    row = await tt.survey_row(telegram)
    assert (row.claimed_by, row.resolved_by, row.resolved_at) == ("Lea Tomer", "Agnes Tomer", clock.now)
    s = await stats(telegram)
    assert (s["open"], s["resolved"]) == (0, 1)
    assert s["median_seconds_to_resolve"] == pytest.approx((clock.now - row.completed_at).total_seconds())


@pytest.fixture
async def bridge():
    b = await FakeBridge().start()
    yield b
    await b.close()


def webhook_config(tmp_path, bridge: FakeBridge, **profile: Any) -> dict:
    return {
        "database_url": f"sqlite:///{tmp_path / 'wh.db'}",
        "admin_tokens": ["loop-admin"],
        "profiles": {
            "acme": {
                "brand": "Acme",
                "policy": {"throttle": "0s", "comment_window": "1h"},
                "link_template": LINK,
                "channels": {"webhook": {"secrets": [SECRET], "deliver_url": bridge.url("/deliver")}},
                "alerts": [{"channel": "webhook", "destination": bridge.url("/alerts")}],
                **profile,
            }
        },
    }


async def test_webhook_alert_after_the_comment_window_and_claim_through_the_api(tmp_path, bridge, clock) -> None:
    client = await start(webhook_config(tmp_path, bridge), clock)
    try:
        await send(client, closed("c7", "u7", agent="marta", customer_name="Jordi"))
        await send(client, reply("c7", "u7", option=1))
        await tt.deliver(client)
        assert bridge.at("/alerts") == []  # the comment may still come
        clock.advance(hours=1, seconds=1)
        await tt.deliver(client)
        [alert] = bridge.at("/alerts")
        assert check(SECRET, alert.body, alert.headers)
        body = alert.json
        assert (body["type"], body["score"], body["comment"], body["customer"], body["agent"]) == (
            "detractor_alert", 1, None, "Jordi", "marta",
        )  # fmt: skip
        assert body["link"] == "https://desk.example.com/c/c7" and body["survey_id"]
        auth = {"Authorization": "Bearer loop-admin"}
        clock.advance(minutes=30)
        r = await client.post(f"/api/v1/detractors/{body['survey_id']}/claim", json={"by": "lea"}, headers=auth)
        assert (await r.json())["status"] == "claimed"
        clock.advance(minutes=30)
        r = await client.post(f"/api/v1/detractors/{body['survey_id']}/resolve", json={"by": "max"}, headers=auth)
        assert (await r.json())["resolved_by"] == "max"
        s = await stats(client)
        assert (s["resolved"], s["median_seconds_to_resolve"]) == (1, 3600)  # completed when the window closed
    finally:
        await client.close()


@pytest.mark.parametrize("review_url", ["https://reviews.example.com/acme", None])
async def test_promoter_review_invitation_only_with_a_review_url(tmp_path, bridge, clock, review_url) -> None:
    client = await start(webhook_config(tmp_path, bridge, review_url=review_url), clock)
    try:
        await send(client, closed("p1", "u1"))
        await send(client, reply("p1", "u1", option=10))
        await send(client, reply("p1", "u1", text="Lovely people"))
        await send(client, closed("d1", "u2"))
        await send(client, reply("d1", "u2", option=8))
        await send(client, reply("d1", "u2", text="fine"))
        await tt.deliver(client)
        texts = {(m.json["conversation_id"], m.json["text"]) for m in bridge.at("/deliver")}
        invites = {conv for conv, text in texts if review_url and review_url in (text or "")}
        assert invites == ({"p1"} if review_url else set())
        assert not any("review" in (text or "").lower() for conv, text in texts if conv == "d1")
    finally:
        await client.close()
