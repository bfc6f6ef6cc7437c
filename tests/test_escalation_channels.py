"""An escalation over the wire: the worker's second alert reaches the escalation chat through the real Telegram and
Slack senders (their fakes record it), says what was missed, carries the routing priority and tags, and the people
in that chat may claim from it like the support team where the first alert went."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from adapters.telegram.keyboards import FollowUpAction
from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.slack_api import FakeSlack
from bots.sandbox.telegram_api import FakeTelegram
from tests import telegram_updates as tg
from tests.conftest import FakeClock
from tests.slack_requests import (
    CUSTOMER,
    ROOT_TS,
    block_action,
    post_form,
    post_json,
    reaction,
    serve,
    survey,
    thread_reply,
)
from tests.slack_requests import deliver as slack_deliver
from tests.telegram_app import SUPPORT, deliver, detractor, make_config, post, survey_row

ESCALATIONS = -100777  # the head of support's Telegram group


def escalating(channel: str, destination: str) -> list[dict]:
    return [
        {
            "name": "slow to claim",
            "when": {"score": "0-6"},
            "then": {
                "priority": "high",
                "tags": ["vip"],
                "claim_within": "30m",
                "escalate_to": [{"channel": channel, "destination": destination}],
            },
        }
    ]


async def test_telegram_escalation_reaches_the_escalation_chat_which_may_claim(tmp_path, clock: FakeClock) -> None:
    fake = await FakeTelegram().start()
    try:
        cfg = make_config(tmp_path, fake)
        cfg["profiles"]["shop"]["rules"] = escalating("telegram", str(ESCALATIONS))
        runtime = Runtime(parse_config(cfg, env={}), clock=clock)
        await runtime.store.migrate()
        async with TestClient(TestServer(create_app(runtime))) as client:
            client.runtime = runtime  # type: ignore[attr-defined]
            sid = await detractor(client, "Nobody answered for two days")
            [alert] = fake.of("sendMessage", SUPPORT)
            assert alert.params["text"].endswith("\n[high] #vip")
            assert fake.of("sendMessage", ESCALATIONS) == []
            clock.advance(minutes=31)
            await deliver(client)  # the worker steps the deadline and sends the escalation
            [escalation] = fake.of("sendMessage", ESCALATIONS)
            text = escalation.params["text"]
            assert text.startswith("⏰ Escalated: nobody claimed this detractor within 30m.\nDetractor (3/10) from Ivo")
            assert "Nobody answered for two days" in text and text.endswith("[high] #vip")
            labels = [b["text"] for b in escalation.params["reply_markup"]["inline_keyboard"][0]]
            assert labels == ["Claim", "Resolved"]
            clock.advance(hours=5)
            await deliver(client)
            assert len(fake.of("sendMessage", ESCALATIONS)) == 1  # once
            head = tg.user(31, "Hana", "en")  # in the escalation group, not a listed agent
            shown = {"text": text, "markup": escalation.params["reply_markup"]}
            claim = FollowUpAction(s=sid, a="c").pack()
            await post(client, tg.callback_update(head, ESCALATIONS, escalation.result["message_id"], claim, **shown))
            assert fake.of("answerCallbackQuery")[-1].params["text"].startswith("Claimed by Hana")
            assert (await survey_row(client)).claimed_by.startswith("Hana")
    finally:
        await fake.close()


async def test_slack_escalation_shows_what_was_missed_and_may_be_claimed_there(tmp_path, clock: FakeClock) -> None:
    fake = await FakeSlack().start()
    try:
        async with serve(tmp_path, fake, clock, rules=escalating("slack", "CHEAD")) as client:
            await post_json(client, reaction())
            sid = (await survey(client)).id
            msg = {"ts": "1700000000.000001", "thread_ts": ROOT_TS, "channel": "CSUPPORT"}
            await post_form(client, block_action(CUSTOMER, f"{sid}:2", "nps_score_2", msg))
            await post_json(client, thread_reply("Nobody answered", "Ev0MSG0002"))
            await slack_deliver(client)
            clock.advance(minutes=45)
            await slack_deliver(client)
            [escalation] = [c for c in fake.of("chat.postMessage") if c.params["channel"] == "CHEAD"]
            blocks = escalation.params["blocks"]
            assert blocks[0]["text"]["text"].startswith("⏰ Escalated: nobody claimed this detractor within 30m.")
            assert escalation.params["text"].endswith("[high] #vip")
            actions = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
            assert actions == ["nps_claim", "nps_resolve"]
            alert_msg = {"ts": "1700000900.000001", "channel": "CHEAD", "blocks": blocks}
            await post_form(client, block_action("UHEAD001", str(sid), "nps_claim", alert_msg, "1700000950.1"))
            assert (await survey(client)).claimed_by == "uhead001"
    finally:
        await fake.close()
