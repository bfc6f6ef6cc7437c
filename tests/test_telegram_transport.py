"""Telegram transport: the mandatory secret token, bad bodies, polling mode, setWebhook at start, and how each
Bot API error ends or retries a delivery."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from adapters.telegram.keyboards import Vote
from adapters.telegram.sender import TelegramSender
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.telegram_api import FakeTelegram
from core.channel import Delivery, send
from core.delivery import PermanentFailure, RetryLater
from core.ratelimit import Rate
from core.store.tables import ContactRow, OutboxRow
from core.types import Say
from tests import telegram_updates as tg
from tests.telegram_app import (
    AGENT,
    GROUP,
    SECRET,
    SUPPORT,
    TOKEN,
    S,
    deliver,
    make_config,
    post,
    survey_row,
    telegram_client,
    telegram_fake,
    wait_for,
)

fake = pytest.fixture(telegram_fake)
client = pytest.fixture(telegram_client)


async def test_secret_token_is_mandatory(client: TestClient) -> None:
    update = tg.text_update(4242, tg.user(4242), "9")
    assert await post(client, update, secret=None) == 401
    assert await post(client, update, secret="wrong") == 401
    resp = await client.post("/telegram/nope", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert resp.status == 404
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    assert (await client.post("/telegram/shop", data=b"{oops", headers=headers)).status == 400
    assert (await client.post("/telegram/shop", json={"hello": 1}, headers=headers)).status == 400
    assert (
        await client.post("/telegram/shop", json={"update_id": 1, "message": {"x": 1}}, headers=headers)
    ).status == 400
    too_big = {"update_id": 2, "message": tg.message(4242, tg.user(4242), "x" * (1024 * 1024 + 10))}
    assert (await client.post("/telegram/shop", json=too_big, headers=headers)).status == 413
    assert (await client.post("/telegram/shop", json=too_big)).status == 401  # the secret is checked first
    assert await post(client, update) == 200  # and the server is still fine


async def test_blocked_user_is_marked_unreachable(client: TestClient, fake: FakeTelegram, clock) -> None:
    fake.fail("sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=5151)

    def topic_closed() -> dict:
        return tg.update(message=tg.message(SUPPORT, AGENT, None, message_thread_id=77, forum_topic_closed={}))

    await post(client, topic_closed())
    await deliver(client)
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        [dead] = (await conn.execute(select(OutboxRow.__table__))).all()
        contact = (await conn.execute(select(ContactRow.__table__))).one()
    assert dead.status == "dead" and "blocked" in dead.last_error and dead.attempts == 1
    assert contact.user_id == "5151" and contact.unreachable_at is not None
    assert (await survey_row(client)).skip_reason == "unreachable"
    clock.advance(days=60)
    await post(client, topic_closed())
    await deliver(client)
    assert (await survey_row(client)).skip_reason == "unreachable"
    assert len(fake.of("sendMessage")) == 1


async def test_429_waits_for_retry_after(client: TestClient, fake: FakeTelegram, clock) -> None:
    fake.fail("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    customer = tg.user(4246, "Rae", "en")
    await post(client, tg.text_update(GROUP, AGENT, "/close", reply_to=tg.message(GROUP, customer, "x")))
    await deliver(client)
    assert fake.of("sendMessage") != [] and (await survey_row(client)).state == "asked"
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        row = (await conn.execute(select(OutboxRow.__table__))).one()
    assert row.status == "pending" and (row.next_attempt_at - clock()).total_seconds() == 7
    clock.advance(seconds=7)
    await deliver(client)
    assert len(fake.of("sendMessage")) == 2


async def test_polling_mode_runs_a_survey(tmp_path, fake: FakeTelegram, clock) -> None:
    runtime = Runtime(parse_config(make_config(tmp_path, fake, mode="polling", secret_token=None), env={}), clock=clock)
    await runtime.store.migrate()
    customer = tg.user(8181, "Poll", "en")
    close = tg.text_update(GROUP, AGENT, "/close", reply_to=tg.message(GROUP, customer, "hey"))
    fake.updates.append(close)

    async def first_survey() -> Any:
        async with runtime.store.read() as conn:
            return (await conn.execute(select(S))).first()

    async def offset_past(update_id: int) -> bool:
        return any(int(c.params.get("offset") or 0) > update_id for c in fake.of("getUpdates"))

    await runtime.start()
    try:
        row = await wait_for(first_survey, "the polled /close")
        await wait_for(lambda: offset_past(close["update_id"]), "getUpdates to confirm the update")
        await runtime.worker.drain()
        [question] = fake.of("sendMessage", GROUP)
        tap = tg.callback_update(customer, GROUP, question.result["message_id"], Vote(s=row.id, n=10).pack())
        fake.updates.append(tap)
        await wait_for(lambda: fake.of("answerCallbackQuery"), "the tap to be answered")
    finally:
        await runtime.stop()
    assert fake.calls[0].method == "deleteWebhook" and fake.of("setWebhook") == []
    assert fake.of("getUpdates")[0].params["allowed_updates"] == [
        "message",
        "callback_query",
        "my_chat_member",
    ]
    assert (row.user_id, row.state) == ("8181", "asked")
    assert fake.of("answerCallbackQuery")[0].params["text"] == "You chose 10"
    assert (await first_survey()).score == 10


async def test_webhook_is_registered_when_public_url_is_set(tmp_path, fake: FakeTelegram, clock) -> None:
    cfg = make_config(tmp_path, fake)
    cfg["server"] = {"public_url": "https://nps.example.com/"}
    runtime = Runtime(parse_config(cfg, env={}), clock=clock)
    await runtime.start()
    await runtime.stop()
    [hook] = fake.of("setWebhook")
    assert hook.token == TOKEN and hook.params["url"] == "https://nps.example.com/telegram/shop"
    assert hook.params["secret_token"] == SECRET
    assert hook.params["allowed_updates"] == ["message", "callback_query", "my_chat_member"]
    assert fake.of("deleteWebhook") == [] and fake.of("getUpdates") == []


@pytest.mark.parametrize(
    ("status", "description", "extra", "verdict"),
    [
        (403, "Forbidden: bot was blocked by the user", {}, "unreachable"),
        (403, "Forbidden: user is deactivated", {}, "unreachable"),
        (400, "Bad Request: chat not found", {}, "unreachable"),
        (400, "Bad Request: group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": -1007}, "permanent"),
        (429, "Too Many Requests: retry after 12", {"retry_after": 12}, "retry after 12"),
        (500, "Internal Server Error", {}, "transient"),
    ],
)
async def test_sender_classifies_bot_api_errors(
    fake: FakeTelegram, status: int, description: str, extra: dict, verdict: str
) -> None:
    """What the worker is told for each Bot API failure: give up (and whether the contact is lost) or retry."""
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.base)))
    sender = TelegramSender(bot, 123456, Rate(1), Rate(25), Rate.per_minute(20))
    delivery = Delivery(1, "shop", "telegram", 1, "5151", "5151", None, "en", 1)
    fake.fail("sendMessage", status, description, **extra)
    try:
        with pytest.raises(Exception) as caught:
            await send(sender, delivery, Say("hi", purpose="thanks"))
    finally:
        await bot.session.close()
    exc = caught.value
    assert fake.of("sendMessage", 5151)  # the request really reached the fake
    if verdict in ("unreachable", "permanent"):
        assert isinstance(exc, PermanentFailure) and exc.unreachable is (verdict == "unreachable")
        assert verdict == "unreachable" or "-1007" in str(exc)  # a moved group names its new id
    elif verdict == "retry after 12":
        assert isinstance(exc, RetryLater) and exc.retry_after == 12.0
    else:  # 5xx: the worker retries with backoff
        assert not isinstance(exc, PermanentFailure | RetryLater)
