"""The Telegram channel over the wire: real aiogram Bot ↔ fake Bot API server, signed webhook updates in."""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from adapters.telegram.keyboards import FollowUpAction, Vote
from adapters.telegram.sender import TelegramSender
from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from core.delivery import PermanentFailure, RetryLater
from core.ratelimit import Rate
from core.store.outbox import OutboxItem
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


def labelled_ends(question: Any) -> tuple[str, str]:
    """The first and last button of a two-row 0–10 keyboard (checked to be two rows of 6 and 5)."""
    rows = question.params["reply_markup"]["inline_keyboard"]
    assert [len(r) for r in rows] == [6, 5]
    return rows[0][0]["text"], rows[-1][-1]["text"]


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
    [question] = fake.of("sendMessage", 5151)
    assert question.params["text"].startswith("¿Qué probabilidad hay de que recomiendes Shop")
    assert labelled_ends(question) == ("0 · Nada probable", "10 · Muy probable")
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
    assert (row.state, row.locale, row.score, row.comment, row.unparsed) == (
        "completed",
        "es",
        9,
        "Muy rápidos",
        ["no sé"],
    )
    late = tg.callback_update(customer, 5151, question.result["message_id"], Vote(s=row.id, n=3).pack())
    assert await post(client, late) == 200
    assert fake.of("answerCallbackQuery")[-1].params["text"] == "Ya respondiste (9). ¡Gracias!"


async def test_italian_free_text_with_admin_closing(client: TestClient, fake: FakeTelegram) -> None:
    customer = tg.user(3131, "Gianni", "it")
    admin = tg.user(8, "Admin", "en")  # not in `agents`, but a chat administrator
    asked = tg.message(GROUP, customer, "ciao")
    await post(client, tg.text_update(GROUP, admin, "/close", reply_to=asked))
    [check] = fake.of("getChatMember", GROUP)
    assert int(check.params["user_id"]) == 8 and check.result["status"] == "administrator"
    await deliver(client)
    [question] = fake.of("sendMessage", GROUP)
    assert question.params["text"].startswith("Quanto è probabile che tu raccomandi Shop")
    assert labelled_ends(question) == ("0 · Per niente", "10 · Molto probabile")
    await post(client, tg.text_update(GROUP, customer, "forse otto o nove"))
    await post(client, tg.text_update(GROUP, customer, "otto"))
    await post(client, tg.text_update(GROUP, customer, "Risposta lenta ma gentile"))
    await deliver(client)
    assert sent_texts(fake, GROUP)[1:] == [
        "Scusa, non ho capito. Rispondi con un solo numero intero da 0 a 10.",
        "Grazie per il tuo 8. Cosa ci sarebbe voluto per un 10?",
        "Grazie per il tuo feedback!",
    ]
    [edit] = fake.of("editMessageReplyMarkup", GROUP)  # a typed score also retires the keyboard
    assert int(edit.params["message_id"]) == question.result["message_id"]
    row = await survey_row(client)
    assert (row.state, row.locale, row.score, row.category, row.comment, row.agent) == (
        "completed",
        "it",
        8,
        "passive",
        "Risposta lenta ma gentile",
        "Admin Tomer",
    )


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
    assert len(fake.of("answerCallbackQuery")) == 3


async def test_unreadable_taps_are_still_answered(client: TestClient, fake: FakeTelegram) -> None:
    assert await post(client, tg.inline_callback_update()) == 200  # the shape of shared/payloads' sample
    customer = tg.user(4249, "Hal", "es")
    assert await post(client, tg.callback_update(customer, GROUP, 1001, "v:abc:1")) == 200
    first, second = fake.of("answerCallbackQuery")
    assert first.params["callback_query_id"] == "4382bfdwdsb323b2d9"
    assert first.params["text"] == "This survey is closed. Thank you!"
    assert second.params["text"] == "Esta encuesta está cerrada. ¡Gracias!"


async def test_a_failed_answer_does_not_lose_the_score(client: TestClient, fake: FakeTelegram) -> None:
    customer = tg.user(4250, "Ida", "en")
    await post(client, tg.text_update(GROUP, AGENT, "/close", reply_to=tg.message(GROUP, customer, "ok")))
    sid = (await survey_row(client)).id
    fake.fail("answerCallbackQuery", 400, "Bad Request: query is too old and response timeout expired")
    assert await post(client, tg.callback_update(customer, GROUP, 1002, Vote(s=sid, n=10).pack())) == 200
    assert len(fake.of("answerCallbackQuery")) == 1
    assert (await survey_row(client)).score == 10


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
    shown = {"text": alert.params["text"], "markup": alert.params["reply_markup"]}
    claim = tg.callback_update(lead, SUPPORT, alert_id, FollowUpAction(s=sid, a="c").pack(), **shown)
    await post(client, claim)
    assert fake.of("answerCallbackQuery")[-1].params["text"] == "Claimed by Lea Tomer"
    [claimed] = fake.of("editMessageText", SUPPORT)
    assert claimed.params["text"].endswith("✔ Claimed by Lea Tomer")
    assert claimed.params["reply_markup"] == alert.params["reply_markup"]  # still claimable and resolvable
    shown["text"] = claimed.params["text"]
    again = tg.callback_update(lead, SUPPORT, alert_id, FollowUpAction(s=sid, a="c").pack(), **shown)
    assert await post(client, again) == 200  # Telegram answers "message is not modified"; the tap is still fine
    assert fake.of("answerCallbackQuery")[-1].params["text"] == "Claimed by Lea Tomer"
    resolve = FollowUpAction(s=sid, a="r").pack()
    await post(client, tg.callback_update(AGENT, SUPPORT, alert_id, resolve, **shown))
    assert fake.of("answerCallbackQuery")[-1].params["text"] == "Resolved by Agnes Tomer"
    row = await survey_row(client)
    assert (row.claimed_by, row.resolved_by) == ("Lea Tomer", "Agnes Tomer")
    resolved = fake.of("editMessageText", SUPPORT)[-1]
    assert resolved.params["text"].endswith("Resolved by Agnes Tomer") and "reply_markup" not in resolved.params


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


async def wait_for(check: Any, what: str) -> Any:
    """Poll until `check()` returns something truthy (the polling loop runs in the background)."""
    for _ in range(200):
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


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


async def test_operator_api_closes_on_telegram_in_the_profile_language(tmp_path, fake: FakeTelegram, clock) -> None:
    cfg = make_config(tmp_path, fake)
    cfg["admin_tokens"] = ["admin-token-telegram-1"]
    cfg["profiles"]["shop"]["locale"] = "pt"
    runtime = Runtime(parse_config(cfg, env={}), clock=clock)
    await runtime.store.migrate()
    async with TestClient(TestServer(create_app(runtime))) as client:
        body = {
            "profile": "shop",
            "channel": "telegram",
            "conversation_id": "6161",
            "user_id": "6161",
            "agent": "Marta",
        }
        resp = await client.post(
            "/api/v1/conversations/close", json=body, headers={"Authorization": "Bearer admin-token-telegram-1"}
        )
        assert resp.status == 200 and (await resp.json())["status"] == "ok"
        await runtime.worker.drain()
        [question] = fake.of("sendMessage", 6161)
        assert labelled_ends(question) == ("0 · Nada provável", "10 · Muito provável")
        customer = tg.user(6161, "Rui", None)  # no language_code: the profile default stays
        await client.post(
            "/telegram/shop",
            json=tg.text_update(6161, customer, "10"),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        await runtime.worker.drain()
        assert sent_texts(fake, 6161)[-1].startswith("Obrigado pelo 10!")


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
    target = {"conversation_id": "5151", "user_id": "5151"}
    item = OutboxItem(1, "shop", "telegram", "say", 1, target, {"text": "hi"}, 0, datetime(2026, 3, 2, tzinfo=UTC))
    fake.fail("sendMessage", status, description, **extra)
    try:
        with pytest.raises(Exception) as caught:
            await sender.send(item)
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
