"""What reaches /messenger/{profile}/webhook, on SQLite and PostgreSQL: duplicates, batches with a bad entry, our own
echoes, messages without text, postbacks, entries for another Page, quick-reply payloads naming a survey that is not
this customer's or this profile's; and requests that are not Meta's at all, refused with nothing stored."""

from __future__ import annotations

import copy
import json
import logging

import pytest
from sqlalchemy import func, select

from bots.sandbox.meta_customers import messaging_attachment, messaging_body, signed
from core.store.tables import InboundJournalRow
from tests.messaging_app import APP_SECRET, BACKENDS, BOB, CONTACTS, JANE, PAGE, REASK, SURVEYS, VERIFY, App, doc, serve


@pytest.fixture(params=BACKENDS)
async def app(request: pytest.FixtureRequest, tmp_path, clock):
    async with serve("messenger", request.param, request, tmp_path, clock) as a:
        yield a


def texts(app: App, customer: str = JANE) -> list[str]:
    return [s.json["message"]["text"] for s in app.fake.of(to=customer)]


async def test_a_redelivered_message_is_handled_once(app: App) -> None:
    survey_id = await app.asked()
    body = app.message("huh?")
    assert await app.post(body) == 200
    assert await app.post(body) == 200  # Meta got no 200 in time and sent the batch again
    assert texts(app).count(texts(app)[-1]) == 1 and texts(app)[-1].startswith(REASK)
    assert (await app.survey(survey_id)).reasks == 1


async def test_a_batch_with_a_bad_entry_loses_none_of_the_others(app: App) -> None:
    jane, bob = await app.asked(), await app.asked(BOB)
    good = app.message("8")
    other = app.message("nine", BOB)["entry"][0]
    broken_event = {"sender": {"id": 12}, "recipient": {}, "message": "not an object"}
    other["messaging"].insert(0, broken_event)
    foreign = copy.deepcopy(app.message("0", JANE, "tapas")["entry"][0])  # another Page's entry
    body = {"object": "page", "entry": [good["entry"][0], {"id": PAGE["acme"], "messaging": "x"}, 7, foreign, other]}
    assert await app.post(body) == 200
    assert (await app.survey(jane)).score == 8
    assert (await app.survey(bob)).score == 9
    async with app.store.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(InboundJournalRow.__table__))).scalar() == 0


async def test_our_own_echo_is_not_a_reply(app: App) -> None:
    survey_id = await app.asked()
    before = len(app.fake.sent)
    echo = doc("messenger_echo.json", app.subs(**{"hello, world!": "9"}))
    assert await app.post(echo) == 200
    row = await app.survey(survey_id)
    assert (row.state, row.score, row.reasks) == ("asked", None, 0) and len(app.fake.sent) == before


@pytest.mark.parametrize("name", ["messenger_attachment.json", "messenger_sticker.json", "messenger_fallback.json"])
async def test_a_message_without_text_gets_the_question_again(app: App, name: str) -> None:
    survey_id = await app.asked()
    body = doc(name, app.subs())
    body["entry"][0]["messaging"][0]["timestamp"] = int(app.clock().timestamp() * 1000)
    assert await app.post(body) == 200
    assert texts(app)[-1].startswith(REASK)
    row = await app.survey(survey_id)
    assert (row.state, row.reasks) == ("asked", 1)


@pytest.mark.parametrize("kind", ["location", "audio", "video", "file"])
async def test_location_audio_video_and_files_get_the_question_again(app: App, kind: str) -> None:
    survey_id = await app.asked()
    assert await app.post(messaging_body("page", PAGE["acme"], [messaging_attachment(JANE, PAGE["acme"], kind)])) == 200
    assert texts(app)[-1].startswith(REASK)
    assert (await app.survey(survey_id)).reasks == 1


async def test_a_reaction_gets_the_question_again(app: App) -> None:
    survey_id = await app.asked()
    reaction = doc("messenger_reaction.json", app.subs(**{"<MID_OF_ReactedTo_Message>": app.fake.sent[0].message_id}))
    assert await app.post(reaction) == 200
    assert texts(app)[-1].startswith(REASK)
    assert (await app.survey(survey_id)).reasks == 1
    assert await app.post(reaction) == 200  # the same reaction delivered twice
    assert (await app.survey(survey_id)).reasks == 1


async def test_a_sticker_in_place_of_the_comment_ends_the_survey_without_one(app: App) -> None:
    survey_id = await app.asked()
    await app.tap(10)
    await app.post(doc("messenger_sticker.json", app.subs()))
    row = await app.survey(survey_id)
    assert (row.state, row.score, row.comment) == ("completed", 10, None)


async def test_a_menu_postback_is_no_reply_but_opens_the_window(app: App) -> None:
    postback = doc("messenger_postback.json", app.subs())
    postback["entry"][0]["messaging"][0]["timestamp"] = int(app.clock().timestamp() * 1000)
    assert await app.post(postback) == 200
    survey_id = await app.close()
    assert app.fake.sent[0].json["messaging_type"] == "RESPONSE"
    await app.post(postback)
    assert (await app.survey(survey_id)).reasks == 0 and len(app.fake.sent) == 1


async def test_a_postback_carrying_a_score_counts(app: App) -> None:
    survey_id = await app.asked()
    postback = doc("messenger_postback.json", app.subs(**{"<USER_DEFINED_PAYLOAD>": f"nps:{survey_id}:7"}))
    await app.post(postback)
    assert (await app.survey(survey_id)).score == 7


async def test_a_quick_reply_naming_another_customers_survey_is_refused(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    mine, bobs = await app.asked(), await app.asked(BOB)
    with caplog.at_level(logging.INFO):
        await app.tap(0, payload=f"nps:{bobs}:0")
    assert (await app.survey(bobs)).score is None and (await app.survey(mine)).score is None
    assert any("refused" in r.getMessage() for r in caplog.records)
    assert not any(JANE in r.getMessage() or BOB in r.getMessage() for r in caplog.records if r.levelno >= 20)


async def test_a_quick_reply_naming_another_profiles_survey_is_refused(app: App) -> None:
    mine = await app.asked()
    theirs = await app.asked(JANE, "tapas")  # the same person writes to the other profile's Page
    await app.tap(0, payload=f"nps:{theirs}:0")  # arriving at acme's webhook
    assert (await app.survey(theirs)).score is None and (await app.survey(mine)).score is None
    await app.tap(6, profile="tapas")
    assert (await app.survey(theirs)).score == 6


async def test_a_payload_out_of_bounds_is_read_as_the_text_it_came_with(app: App) -> None:
    survey_id = await app.asked()
    await app.tap(5, payload="nps:99999999999999999999:5")
    assert (await app.survey(survey_id)).score == 5  # the title "5", as typed
    await app.tap(2, payload="nps:1:11")  # no such score: only the comment counts now
    row = await app.survey(survey_id)
    assert (row.score, row.comment) == (5, "2")


async def test_an_entry_for_another_page_is_ignored(app: App) -> None:
    survey_id = await app.asked()
    body = app.message("10")
    body["entry"][0]["id"] = PAGE["tapas"]
    assert await app.post(body) == 200
    assert (await app.survey(survey_id)).score is None


async def state(app: App) -> tuple[int, int, int]:
    async with app.store.read() as conn:
        counts = []
        for table in (InboundJournalRow.__table__, SURVEYS, CONTACTS):
            counts.append((await conn.execute(select(func.count()).select_from(table))).scalar())
    return counts[0], counts[1], counts[2]


async def test_requests_that_are_not_metas_are_refused_with_nothing_stored(app: App) -> None:
    before = await state(app)
    body, headers = signed(APP_SECRET, app.message("9"))
    wrong = {**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64}
    unsigned = {"Content-Type": "application/json"}
    assert await app.post_raw(body, unsigned) == 401
    assert await app.post_raw(body, wrong) == 401
    assert await app.post_raw(body, signed("another-app-secret", app.message("9"))[1]) == 401
    assert await app.post_raw(*signed(APP_SECRET, b"{not json")) == 400
    assert await app.post_raw(*signed(APP_SECRET, b"[1, 2]")) == 400
    whatsapp = {"object": "whatsapp_business_account", "entry": []}
    assert await app.post_raw(*signed(APP_SECRET, json.dumps(whatsapp).encode())) == 400
    assert await app.post_raw(*signed(APP_SECRET, json.dumps({"object": "page", "entry": {}}).encode())) == 400
    huge = json.dumps({"object": "page", "entry": [], "pad": "x" * (2 * 1024 * 1024)}).encode()
    assert await app.post_raw(*signed(APP_SECRET, huge)) == 413
    resp = await app.client.post("/messenger/nobody/webhook", data=body, headers=headers)
    assert resp.status == 404
    assert await state(app) == before


async def test_the_subscription_handshake(app: App) -> None:
    ok = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
    resp = await app.client.get("/messenger/acme/webhook", params=ok)
    assert resp.status == 200 and await resp.text() == "1158201444"
    resp = await app.client.get("/messenger/acme/webhook", params={**ok, "hub.verify_token": "guess"})
    assert resp.status == 403
