"""The Slack channel over the wire: real AsyncWebClient ↔ fake Web API; inbound requests signed as Slack signs."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient

from bots.sandbox.slack_api import FakeSlack
from tests.slack_requests import (
    ADMIN,
    AGENT,
    CHAN,
    CUSTOMER,
    MESSAGE_IM,
    OTHER,
    ROOT_TS,
    block_action,
    deliver,
    event,
    post_form,
    post_json,
    reaction,
    serve,
    slack_client,
    slack_fake,
    survey,
    thread_reply,
)

fake = pytest.fixture(slack_fake)
client = pytest.fixture(slack_client)


async def test_full_loop_in_a_thread(client: TestClient, fake: FakeSlack) -> None:
    fake.locales[CUSTOMER] = "es-ES"
    fake.names |= {CUSTOMER: "Lucía Pérez", AGENT: "Elena Ruiz"}
    assert (await post_json(client, reaction()))[0] == 200
    await deliver(client)
    [question] = fake.of("chat.postMessage")
    p = question.params
    assert p["channel"] == CHAN and p["thread_ts"] == ROOT_TS and question.token == "Bearer xoxb-test-token"
    assert p["text"].startswith("¿Qué probabilidad hay de que recomiendes Acme")
    buttons = [e for b in p["blocks"] if b["type"] == "actions" for e in b["elements"]]
    labels = [b["text"]["text"] for b in buttons]
    assert labels == ["0 · Nada probable", *map(str, range(1, 10)), "10 · Muy probable"]  # ends in her language
    row = await survey(client)
    assert (row.state, row.user_id, row.thread, row.locale) == ("asked", CUSTOMER, ROOT_TS, "es")
    assert (row.agent, row.customer_name) == ("Elena Ruiz", "Lucía Pérez")  # reports and alerts show names

    msg = {"ts": "1700000000.000001", "thread_ts": ROOT_TS, "channel": CHAN, "blocks": p["blocks"]}
    nine = next(b for b in buttons if b["text"]["text"] == "9")
    assert (await post_form(client, block_action(CUSTOMER, nine["value"], nine["action_id"], msg)))[0] == 200
    await deliver(client)
    [update] = fake.of("chat.update")
    assert update.params["ts"] == "1700000000.000001" and update.params["text"] == "Elegiste 9"
    assert [b["type"] for b in update.params["blocks"]] == ["section"]  # the buttons are gone
    comment_question = fake.of("chat.postMessage")[1].params
    assert comment_question["thread_ts"] == ROOT_TS and comment_question["text"].startswith("¡Gracias por el 9!")

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
    comment_question = {"ts": "1700000000.000002", "thread_ts": ROOT_TS, "channel": CHAN}
    await post_form(client, block_action(CUSTOMER, str(sid), "nps_comment", comment_question, "1700000400.1"))
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


async def test_locale_falls_back_to_the_profile_default(tmp_path, fake: FakeSlack, clock) -> None:
    fake.errors["users.info"] = "user_not_found"
    async with serve(tmp_path, fake, clock, locale="de") as client:
        await post_json(client, reaction())
        await deliver(client)
    lookups = fake.of("users.info")
    assert sorted(c.params["user"] for c in lookups) == sorted([CUSTOMER, AGENT])  # one try each, then defaults
    assert all(c.params["include_locale"] in ("1", "true", True) for c in lookups)
    [question] = fake.of("chat.postMessage")
    assert question.params["text"].startswith("Wie wahrscheinlich ist es, dass Sie Acme")
    buttons = [e["text"]["text"] for b in question.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert (buttons[0], buttons[-1]) == ("0 · Unwahrscheinlich", "10 · Sehr wahrscheinlich")


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


async def test_a_changed_locale_and_name_are_picked_up_within_a_day(client: TestClient, fake: FakeSlack, clock) -> None:
    """users.info answers are remembered, not forever: a person who switches Slack to German is asked in German
    once the day-old answer has expired."""

    def close_thread(n: int) -> dict:
        body = reaction(f"Ev0CLOSE{n}")
        body["event"]["item"]["ts"] = f"17000000{n}0.000100"
        return body

    fake.locales[CUSTOMER], fake.names[CUSTOMER] = "es-ES", "Lucía Pérez"
    await post_json(client, close_thread(1))
    await deliver(client)
    fake.locales[CUSTOMER], fake.names[CUSTOMER] = "de-DE", "Lucía Pérez Weber"
    clock.advance(hours=23)
    await post_json(client, close_thread(2))
    await deliver(client)
    clock.advance(hours=2)
    await post_json(client, close_thread(3))
    await deliver(client)
    questions = [c.params["text"] for c in fake.of("chat.postMessage")]
    assert [q.split(" ")[0] for q in questions] == ["¿Qué", "¿Qué", "Wie"]
    looked_up = [c.params["user"] for c in fake.of("users.info") if c.params["user"] == CUSTOMER]
    assert len(looked_up) == 2  # once, then again only after the day had passed
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        names = (await conn.exec_driver_sql("SELECT customer_name FROM surveys ORDER BY id")).scalars().all()
    assert names == ["Lucía Pérez", "Lucía Pérez", "Lucía Pérez Weber"]
