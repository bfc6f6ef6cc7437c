"""What reaches /instagram/{profile}/webhook: our echoes (on Instagram part of the `messages` field), messages the API
does not carry or the customer unsent, media, story mentions and reactions, forged quick-reply payloads, another
account's entries, and requests that are not Meta's."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from bots.sandbox.meta_customers import signed
from core.store.tables import InboundJournalRow
from tests.messaging_app import APP_SECRET, BACKENDS, BOB, IG, JANE, REASK, App, doc, serve


@pytest.fixture(params=BACKENDS)
async def app(request: pytest.FixtureRequest, tmp_path, clock):
    async with serve("instagram", request.param, request, tmp_path, clock) as a:
        yield a


def now_ms(app: App) -> int:
    return int(app.clock().timestamp() * 1000)


async def post_doc(app: App, name: str, **subs: str) -> int:
    body = doc(name, app.subs(**{"MESSAGE-ID": app.next_mid(), **subs}))
    body["entry"][0]["messaging"][0]["timestamp"] = now_ms(app)
    return await app.post(body)


async def test_our_echo_is_not_a_reply(app: App) -> None:
    survey_id = await app.asked()
    assert await post_doc(app, "instagram_echo.json", **{"MESSAGE-TEXT": "7"}) == 200
    row = await app.survey(survey_id)
    assert (row.score, row.reasks) == (None, 0) and len(app.fake.sent) == 1


@pytest.mark.parametrize(
    "name",
    ["instagram_attachment.json", "instagram_story_mention.json", "instagram_unsupported.json"],
)
async def test_a_message_without_text_gets_the_question_again(app: App, name: str) -> None:
    survey_id = await app.asked()
    assert await post_doc(app, name) == 200
    assert app.fake.sent[-1].json["message"]["text"].startswith(REASK)
    assert (await app.survey(survey_id)).reasks == 1


async def test_an_unsent_message_is_ignored(app: App) -> None:
    survey_id = await app.asked()
    assert await post_doc(app, "instagram_deleted.json") == 200
    assert (await app.survey(survey_id)).reasks == 0 and len(app.fake.sent) == 1


async def test_a_reaction_to_the_question_gets_it_again(app: App) -> None:
    survey_id = await app.asked()
    assert await post_doc(app, "instagram_reaction.json", **{"MESSAGE-ID": app.fake.sent[0].message_id}) == 200
    assert app.fake.sent[-1].json["message"]["text"].startswith(REASK)
    assert (await app.survey(survey_id)).reasks == 1


async def test_a_redelivered_message_is_handled_once(app: App) -> None:
    survey_id = await app.asked()
    body = app.message("6")
    await app.post(body)
    await app.post(body)
    assert (await app.survey(survey_id)).score == 6 and len(app.fake.sent) == 2  # question, comment question


async def test_forged_quick_replies_are_refused(app: App) -> None:
    mine, bobs = await app.asked(), await app.asked(BOB)
    theirs = await app.asked(JANE, "tapas")
    await app.tap(1, payload=f"nps:{bobs}:1")  # another customer's survey
    await app.tap(2, payload=f"nps:{theirs}:2")  # another profile's survey
    for survey_id in (mine, bobs, theirs):
        assert (await app.survey(survey_id)).score is None


async def test_an_entry_for_another_account_is_ignored(app: App) -> None:
    survey_id = await app.asked()
    body = app.message("10")
    body["entry"][0]["id"] = IG["tapas"]
    assert await app.post(body) == 200
    assert (await app.survey(survey_id)).score is None


async def test_requests_that_are_not_metas_are_refused_with_nothing_stored(app: App) -> None:
    body, headers = signed(APP_SECRET, app.message("9"))
    assert await app.post_raw(body, {"Content-Type": "application/json"}) == 401
    assert await app.post_raw(body, {**headers, "X-Hub-Signature-256": "sha256=00"}) == 401
    assert await app.post_raw(*signed(APP_SECRET, b'{"object": "instagram", "entry": [')) == 400
    page = json.dumps({"object": "page", "entry": [app.message("9")["entry"][0]]}).encode()
    assert await app.post_raw(*signed(APP_SECRET, page)) == 400  # a Page's webhook body at Instagram's endpoint
    huge = json.dumps({"object": "instagram", "entry": [], "pad": "x" * (2 * 1024 * 1024)}).encode()
    assert await app.post_raw(*signed(APP_SECRET, huge)) == 413
    resp = await app.client.post("/instagram/nobody/webhook", data=body, headers=headers)
    assert resp.status == 404
    async with app.store.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(InboundJournalRow.__table__))).scalar() == 0
    assert app.fake.sent == []
