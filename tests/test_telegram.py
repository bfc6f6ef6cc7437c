"""The Telegram channel over the wire: real aiogram Bot ↔ fake Bot API server, signed webhook updates in."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from adapters.telegram.keyboards import FollowUpAction, Vote
from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from core.store.tables import ContactRow, OutboxRow, SurveyRow
from tests import telegram_updates as tg
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:TEST-token_abc"
SECRET = "s3cret-Token_1"
AGENT = tg.user(7, "Agnes", "en")
GROUP = -100555
SUPPORT = -100999
FAST = {"per_chat_per_second": 1000, "per_bot_per_second": 1000, "per_group_per_minute": 100000}
S = SurveyRow.__table__


@pytest.fixture
async def fake():
    f = await FakeTelegram().start()
    f.admins.add(8)
    yield f
    await f.close()


def make_config(tmp_path, fake: FakeTelegram, **telegram: Any) -> dict:
    return {
        "database_url": f"sqlite:///{tmp_path / 'tg.db'}",
        "profiles": {
            "shop": {
                "brand": "Shop",
                "locale": "en",
                "policy": {"throttle": "0s"},
                "channels": {
                    "telegram": {
                        "token": TOKEN,
                        "secret_token": SECRET,
                        "api_base": fake.base,
                        "agents": [AGENT["id"]],
                        "support_chat_id": SUPPORT,
                        "topic_customers": {77: 5151},
                        **FAST,
                        **telegram,
                    }
                },
                "alerts": [{"channel": "telegram", "destination": str(SUPPORT)}],
            }
        },
    }


@pytest.fixture
async def client(tmp_path, fake, clock):
    runtime = Runtime(parse_config(make_config(tmp_path, fake), env={}), clock=clock)
    await runtime.store.migrate()
    async with TestClient(TestServer(create_app(runtime))) as c:
        c.runtime = runtime  # type: ignore[attr-defined]
        yield c


async def post(client: TestClient, update: dict, secret: str | None = SECRET) -> int:
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    resp = await client.post("/telegram/shop", json=update, headers=headers)
    await resp.read()
    return resp.status


async def deliver(client: TestClient) -> None:
    await client.runtime.worker.drain()  # type: ignore[attr-defined]


async def survey_row(client: TestClient, **where: Any) -> Any:
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        q = select(S).order_by(S.c.id.desc())
        for k, v in where.items():
            q = q.where(S.c[k] == v)
        return (await conn.execute(q)).first()


def sent_texts(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [c.params["text"] for c in fake.of("sendMessage", chat_id)]


async def test_full_conversation_in_a_group(client: TestClient, fake: FakeTelegram) -> None:
    customer = tg.user(4242, "Carla", "en")
    asked = tg.message(GROUP, customer, "my order is late")
    assert await post(client, tg.update(message=asked)) == 200
    assert await post(client, tg.text_update(GROUP, AGENT, "/close", reply_to=asked)) == 200
    await deliver(client)

    [question] = fake.of("sendMessage", GROUP)
    assert "Shop" in question.params["text"] and "0" in question.params["text"]
    rows = question.params["reply_markup"]["inline_keyboard"]
    buttons = [b for row in rows for b in row]
    assert [len(r) for r in rows] == [6, 5] and len(buttons) == 11
    assert buttons[0]["text"] == "0 · Not likely" and buttons[-1]["text"] == "10 · Very likely"
    assert all(len(b["callback_data"].encode()) < 64 for b in buttons)
    survey = await survey_row(client)
    assert (survey.state, survey.agent, survey.user_id, survey.conversation_id) == (
        "asked",
        "Agnes Tomer",
        "4242",
        str(GROUP),
    )

    question_id = question.result["message_id"]
    tap = tg.callback_update(customer, GROUP, question_id, Vote(s=survey.id, n=9).pack())
    assert await post(client, tap) == 200
    [answer] = fake.of("answerCallbackQuery")
    assert answer.params["text"] == "You chose 9"
    await deliver(client)
    [edit] = fake.of("editMessageReplyMarkup", GROUP)
    assert int(edit.params["message_id"]) == question_id
    assert [b["text"] for row in edit.params["reply_markup"]["inline_keyboard"] for b in row] == ["✅ You chose 9"]
    assert sent_texts(fake, GROUP)[-1].startswith("Thank you for the 9!")

    assert await post(client, tap) == 200  # the same update delivered again
    await deliver(client)
    assert len(fake.of("answerCallbackQuery")) == 2  # still answered, so the button stops spinning
    assert len(fake.of("editMessageReplyMarkup")) == 1 and len(sent_texts(fake, GROUP)) == 2

    assert await post(client, tg.text_update(GROUP, customer, "Fast and friendly")) == 200
    await deliver(client)
    assert sent_texts(fake, GROUP)[-1] == "Thank you for your feedback!"
    done = await survey_row(client)
    assert (done.state, done.score, done.category, done.comment) == ("completed", 9, "promoter", "Fast and friendly")

    again = tg.callback_update(customer, GROUP, question_id, Vote(s=survey.id, n=2).pack())
    await post(client, again)
    assert fake.of("answerCallbackQuery")[-1].params["text"] == "You already answered (9). Thank you!"
    assert (await survey_row(client)).score == 9


async def test_spanish_free_text_after_a_forum_topic_closes(client: TestClient, fake: FakeTelegram) -> None:
    customer = tg.user(5151, "Lucía", "es")
    await post(client, tg.text_update(5151, customer, "hola, necesito ayuda"))  # the bot learns her language
    closed = tg.update(
        message=tg.message(SUPPORT, AGENT, None, message_thread_id=77, is_topic_message=True, forum_topic_closed={})
    )
    assert await post(client, closed) == 200
    await deliver(client)
    assert sent_texts(fake, 5151)[0].startswith("¿Qué probabilidad hay de que recomiendes Shop")
    await post(client, tg.text_update(5151, customer, "no sé"))
    await post(client, tg.text_update(5151, customer, "Nueve!"))
    await post(client, tg.text_update(5151, customer, "Muy rápidos"))
    await deliver(client)
    assert sent_texts(fake, 5151)[1:] == [
        "Perdona, no lo he entendido. Responde con un solo número entero del 0 al 10.",
        "¡Gracias por el 9! ¿Cuál es el motivo principal de tu puntuación?",
        "¡Gracias por tu opinión!",
    ]
    row = await survey_row(client)
    assert (row.locale, row.score, row.comment, row.unparsed) == ("es", 9, "Muy rápidos", ["no sé"])


async def test_italian_free_text_with_admin_closing(client: TestClient, fake: FakeTelegram) -> None:
    customer = tg.user(3131, "Gianni", "it")
    admin = tg.user(8, "Admin", "en")  # not in `agents`, but a chat administrator
    asked = tg.message(GROUP, customer, "ciao")
    await post(client, tg.text_update(GROUP, admin, "/close", reply_to=asked))
    await post(client, tg.text_update(GROUP, customer, "otto"))
    await deliver(client)
    texts = sent_texts(fake, GROUP)
    assert texts[0].startswith("Quanto è probabile che tu raccomandi Shop")
    assert texts[1] == "Grazie per il 8. Cosa ci sarebbe voluto per un 10?"
    assert (await survey_row(client)).category == "passive"


async def test_close_by_a_non_agent_is_ignored(client: TestClient, fake: FakeTelegram) -> None:
    customer = tg.user(4243, "Eve", "en")
    asked = tg.message(GROUP, customer, "hello")
    await post(client, tg.text_update(GROUP, tg.user(99, "Random", "en"), "/close", reply_to=asked))
    await deliver(client)
    assert await survey_row(client) is None and fake.of("sendMessage") == []


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


async def test_taps_on_old_surveys_and_by_others_get_toasts(client: TestClient, fake: FakeTelegram, clock) -> None:
    customer = tg.user(4244, "Dana", "en")
    asked = tg.message(GROUP, customer, "thanks")
    await post(client, tg.text_update(GROUP, AGENT, "/close", reply_to=asked))
    sid = (await survey_row(client)).id
    other = tg.user(4999, "Mallory", "en")
    await post(client, tg.callback_update(other, GROUP, 1000, Vote(s=sid, n=0).pack()))
    assert fake.of("answerCallbackQuery")[-1].params["text"] == "This survey is for the customer in this conversation."
    clock.advance(hours=25)
    await client.runtime.service.tick()  # type: ignore[attr-defined]
    await post(client, tg.callback_update(customer, GROUP, 1000, Vote(s=sid, n=10).pack()))
    assert fake.of("answerCallbackQuery")[-1].params["text"] == "This survey is closed. Thank you!"
    assert (await survey_row(client)).state == "expired"
    await post(client, tg.callback_update(customer, GROUP, 1000, Vote(s=999999, n=10).pack()))
    assert fake.of("answerCallbackQuery")[-1].params["text"] == "This survey is closed. Thank you!"


async def test_kicking_the_bot_opts_out(client: TestClient, fake: FakeTelegram) -> None:
    customer = tg.user(5151, "Lucía", "es")
    assert await post(client, tg.kicked_update(customer)) == 200
    closed = tg.update(message=tg.message(SUPPORT, AGENT, None, message_thread_id=77, forum_topic_closed={}))
    assert await post(client, closed) == 200
    await deliver(client)
    assert (await survey_row(client)).skip_reason == "opted_out" and fake.of("sendMessage") == []


async def test_detractor_alert_with_claim_and_resolve(client: TestClient, fake: FakeTelegram) -> None:
    customer = tg.user(4245, "Ivo", "en")
    asked = tg.message(GROUP, customer, "meh")
    await post(client, tg.text_update(GROUP, AGENT, "/close", reply_to=asked))
    sid = (await survey_row(client)).id
    await post(client, tg.text_update(GROUP, customer, "3"))
    await post(client, tg.text_update(GROUP, customer, "Nobody answered for two days"))
    await deliver(client)
    [alert] = fake.of("sendMessage", SUPPORT)
    assert "Detractor (3/10)" in alert.params["text"] and "Nobody answered" in alert.params["text"]
    labels = [b["text"] for b in alert.params["reply_markup"]["inline_keyboard"][0]]
    assert labels == ["Claim", "Resolved"]
    lead = tg.user(9, "Lea", "en")
    alert_id = alert.result["message_id"]
    await post(client, tg.callback_update(lead, SUPPORT, alert_id, FollowUpAction(s=sid, a="c").pack()))
    assert fake.of("answerCallbackQuery")[-1].params["text"] == "Claimed by Lea Tomer"
    await post(client, tg.callback_update(AGENT, SUPPORT, alert_id, FollowUpAction(s=sid, a="r").pack()))
    assert fake.of("answerCallbackQuery")[-1].params["text"] == "Resolved by Agnes Tomer"
    row = await survey_row(client)
    assert (row.claimed_by, row.resolved_by) == ("Lea Tomer", "Agnes Tomer")
    assert fake.of("editMessageText", SUPPORT)[-1].params["text"].endswith("Resolved by Agnes Tomer")


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


async def test_polling_mode_receives_updates(tmp_path, fake: FakeTelegram, clock) -> None:
    runtime = Runtime(parse_config(make_config(tmp_path, fake, mode="polling", secret_token=None), env={}), clock=clock)
    await runtime.store.migrate()
    customer = tg.user(8181, "Poll", "en")
    fake.updates.append(tg.text_update(GROUP, AGENT, "/close", reply_to=tg.message(GROUP, customer, "hey")))
    await runtime.start()
    row = None
    try:
        for _ in range(200):
            async with runtime.store.read() as conn:
                row = (await conn.execute(select(S))).first()
            if row is not None:
                break
            await asyncio.sleep(0.05)
    finally:
        await runtime.stop()
    assert fake.calls[0].method == "deleteWebhook" and fake.of("getUpdates")
    assert row is not None and (row.user_id, row.state) == ("8181", "asked")
