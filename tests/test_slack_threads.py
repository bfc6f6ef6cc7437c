"""A survey asked at the top level of a channel or DM (`/nps-close`, the operator API) is answered in the thread
Slack opens under the bot's question or comment question: that reply is the score or the comment. Replies in any
other thread are not. Run on SQLite and PostgreSQL (the lookup is one statement on each)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bots.sandbox.slack_api import FakeSlack
from core.store import Store
from tests.slack_requests import (
    ADMIN,
    AGENT,
    CHAN,
    CUSTOMER,
    MESSAGE_IM,
    OTHER,
    block_action,
    deliver,
    event,
    post_form,
    post_json,
    serve,
    slack_fake,
    survey,
    surveys,
)

fake = pytest.fixture(slack_fake)


@pytest.fixture
async def client(tmp_path, fake: FakeSlack, clock, store: Store):
    async with serve(tmp_path, fake, clock, store=store) as c:
        yield c


def command(fake: FakeSlack, customer: str = CUSTOMER, n: int = 1) -> dict[str, str]:
    return {
        "token": "gIkuvaNzQIHg97ATvDxqgjtO", "team_id": "T0001", "team_domain": "example", "channel_id": CHAN,
        "channel_name": "support", "user_id": AGENT, "user_name": "agent", "command": "/nps-close",
        "text": f"<@{customer}|c>", "response_url": fake.base.replace("/api/", f"/response/{n}"),
        "trigger_id": f"13345224609.738474920.{n}",
    }  # fmt: skip


def message(text: str, event_id: str, thread: str | None, user: str = CUSTOMER, channel: str = CHAN) -> dict:
    inner = {"type": "message", "channel": channel, "user": user, "text": text, "ts": f"1700000900.{event_id[-6:]}",
             "channel_type": "channel", "event_ts": f"1700000900.{event_id[-6:]}"}  # fmt: skip
    if thread is not None:
        inner["thread_ts"] = thread
    return event(inner, event_id)


def posted(fake: FakeSlack, channel: str = CHAN) -> list[dict[str, Any]]:
    """What the bot posted there: text, where, and the ts Slack gave it."""
    return [
        {"text": c.params["text"], "thread_ts": c.params.get("thread_ts"), "ts": c.result["ts"]}
        for c in fake.of("chat.postMessage")
        if c.params["channel"] == channel and c.result
    ]


async def closed_at_top_level(client: TestClient, fake: FakeSlack, customer: str = CUSTOMER, n: int = 1) -> str:
    """`/nps-close @customer`: the question goes to the channel itself, not a thread; returns its ts."""
    assert (await post_form(client, command(fake, customer, n)))[0] == 200
    await deliver(client)
    question = posted(fake)[-1]
    assert question["thread_ts"] is None and question["text"].startswith("How likely")
    return question["ts"]


async def test_score_and_comment_typed_in_the_threads_under_the_bots_messages(client: TestClient, fake) -> None:
    question = await closed_at_top_level(client, fake)
    assert (await post_json(client, message("8", "Ev0TH000001", question)))[0] == 200
    await deliver(client)
    row = await survey(client)
    assert (row.state, row.score, row.thread) == ("scored", 8, None)
    comment_question = posted(fake)[-1]
    assert comment_question["text"].startswith("Thanks for the 8.") and comment_question["thread_ts"] is None
    await post_json(client, message("The wait was long", "Ev0TH000002", comment_question["ts"]))
    await deliver(client)
    row = await survey(client)
    assert (row.state, row.score, row.comment) == ("completed", 8, "The wait was long")
    assert posted(fake)[-1]["text"] == "Thank you for your feedback!"


async def test_comment_in_the_questions_thread_after_a_tap(client: TestClient, fake) -> None:
    question = await closed_at_top_level(client, fake)
    sid = (await survey(client)).id
    tap = block_action(CUSTOMER, f"{sid}:9", "nps_score_9", {"ts": question, "channel": CHAN})
    assert (await post_form(client, tap))[0] == 200
    await post_json(client, message("Quick and kind", "Ev0TH000003", question))
    row = await survey(client)
    assert (row.state, row.score, row.comment) == ("completed", 9, "Quick and kind")


async def test_direct_message_thread_under_the_question(client: TestClient, fake) -> None:
    dm, customer = MESSAGE_IM["event"]["channel"], MESSAGE_IM["event"]["user"]
    body = {"profile": "desk", "channel": "slack", "conversation_id": dm, "user_id": customer, "agent": "Marta"}
    resp = await client.post("/api/v1/conversations/close", json=body, headers={"Authorization": f"Bearer {ADMIN}"})
    assert resp.status == 200
    await deliver(client)
    [question] = posted(fake, dm)
    reply = json.loads(json.dumps(MESSAGE_IM))
    reply["event"] |= {"text": "nine", "thread_ts": question["ts"], "ts": "1355517530.000001"}
    assert (await post_json(client, reply))[0] == 200
    assert (await survey(client)).score == 9


async def test_replies_in_other_threads_are_not_answers(client: TestClient, fake) -> None:
    question = await closed_at_top_level(client, fake)
    other_question = await closed_at_top_level(client, fake, OTHER, 2)  # the bot's question to someone else
    # A thread under the customer's own message, under a message that is not the bot's, and under the question
    # to another customer: none of them is this survey's thread.
    for n, thread in enumerate(("1700000800.000001", "1699990000.000042", other_question)):
        assert (await post_json(client, message("3", f"Ev0TH00001{n}", thread)))[0] == 200
    # Someone else answering in the thread under the customer's question is not the customer.
    assert (await post_json(client, message("0", "Ev0TH000020", question, user=OTHER)))[0] == 200
    # The same ts as our question, but in another channel, is another message.
    assert (await post_json(client, message("2", "Ev0TH000021", question, channel="CELSEWHERE")))[0] == 200
    await deliver(client)
    assert [(r.user_id, r.state, r.score) for r in await surveys(client)] == [(CUSTOMER, "asked", None),
                                                                              (OTHER, "asked", None)]  # fmt: skip
    assert (await post_json(client, message("7", "Ev0TH000030", question)))[0] == 200
    assert [(r.user_id, r.score) for r in await surveys(client)] == [(CUSTOMER, 7), (OTHER, None)]
