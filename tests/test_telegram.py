"""The Telegram channel over the wire: real aiogram Bot ↔ fake Bot API server, webhook updates in; the survey
conversation in several languages, taps old and new, the detractor alert."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.telegram.keyboards import FollowUpAction, Vote
from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.telegram_api import FakeTelegram
from tests import telegram_updates as tg
from tests.telegram_app import (
    AGENT,
    GROUP,
    SECRET,
    SUPPORT,
    deliver,
    detractor,
    labelled_ends,
    make_config,
    post,
    sent_texts,
    survey_row,
    telegram_client,
    telegram_fake,
)

fake = pytest.fixture(telegram_fake)
client = pytest.fixture(telegram_client)


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
    sid = await detractor(client, "Nobody answered for two days")
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
