"""Who may close a Telegram conversation and where: agents and chat admins, forum topics mapped to customers,
and a repeated close update."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bots.sandbox.telegram_api import FakeTelegram
from tests import telegram_updates as tg
from tests.telegram_app import (
    AGENT,
    GROUP,
    SUPPORT,
    S,
    deliver,
    labelled_ends,
    post,
    survey_row,
    telegram_client,
    telegram_fake,
)

fake = pytest.fixture(telegram_fake)
client = pytest.fixture(telegram_client)


async def test_close_by_a_non_agent_is_ignored(client: TestClient, fake: FakeTelegram) -> None:
    customer = tg.user(4243, "Eve", "en")
    asked = tg.message(GROUP, customer, "hello")
    assert await post(client, tg.text_update(GROUP, tg.user(99, "Random", "en"), "/close", reply_to=asked)) == 200
    [check] = fake.of("getChatMember", GROUP)
    assert int(check.params["user_id"]) == 99 and check.result["status"] == "member"
    await deliver(client)
    assert await survey_row(client) is None and fake.of("sendMessage") == []
    assert fake.of("setWebhook") == []  # no server.public_url: the operator registers the webhook


async def test_close_survives_a_failing_admin_lookup(client: TestClient, fake: FakeTelegram) -> None:
    fake.fail("getChatMember", 400, "Bad Request: chat not found")
    asked = tg.message(GROUP, tg.user(4247, "Fil", "en"), "hello")
    assert await post(client, tg.text_update(GROUP, tg.user(98, "Maybe", "en"), "/close", reply_to=asked)) == 200
    assert len(fake.of("getChatMember")) == 1 and await survey_row(client) is None


async def test_close_inside_a_mapped_topic_and_unmapped_topics(client: TestClient, fake: FakeTelegram) -> None:
    def in_topic(thread: int, chat_id: int = SUPPORT, **extra: Any) -> dict:
        return tg.text_update(chat_id, AGENT, "/close", message_thread_id=thread, is_topic_message=True, **extra)

    assert await post(client, in_topic(78)) == 200  # not mapped: the agent is told how to use it
    assert "Reply /close" in fake.of("sendMessage", SUPPORT)[-1].params["text"]
    german_agent = AGENT | {"language_code": "de"}
    german = tg.text_update(SUPPORT, german_agent, "/close", message_thread_id=78, is_topic_message=True)
    assert await post(client, german) == 200  # the hint is in the agent's own language
    assert fake.of("sendMessage", SUPPORT)[-1].params["text"].startswith("Antworten Sie mit /close")
    closed_elsewhere = tg.message(GROUP, AGENT, None, message_thread_id=77, forum_topic_closed={})
    assert await post(client, tg.update(message=closed_elsewhere)) == 200  # topic 77, but not the support group
    assert await survey_row(client) is None
    assert await post(client, in_topic(77)) == 200
    row = await survey_row(client)
    assert (row.conversation_id, row.user_id, row.agent) == ("5151", "5151", "Agnes Tomer")
    await deliver(client)
    assert labelled_ends(fake.of("sendMessage", 5151)[0]) == ("0 · Not likely", "10 · Very likely")


async def test_duplicate_close_update_asks_once(client: TestClient, fake: FakeTelegram) -> None:
    close = tg.text_update(GROUP, AGENT, "/close", reply_to=tg.message(GROUP, tg.user(4248, "Gus", "en"), "bye"))
    assert await post(client, close) == 200
    assert await post(client, close) == 200
    await deliver(client)
    assert len(fake.of("sendMessage", GROUP)) == 1
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        assert len((await conn.execute(select(S))).all()) == 1
