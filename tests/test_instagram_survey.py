"""A survey in Instagram Direct at the wire, on SQLite and PostgreSQL: with Instagram Login the question leaves from
the account itself (`/{ig-id}/messages`), with Facebook Login from the linked Page; quick replies, a tap, the
comment, the thanks; Instagram's `messaging_seen` names the message read."""

from __future__ import annotations

import pytest

from tests.messaging_app import ACCESS, BACKENDS, IG, JANE, PAGE, App, doc, serve


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def app(backend: str, request: pytest.FixtureRequest, tmp_path, clock):
    async with serve("instagram", backend, request, tmp_path, clock) as a:
        yield a


async def test_full_survey_with_instagram_login(app: App) -> None:
    assert await app.write("hey, my order arrived broken") == 200
    survey_id = await app.close(agent="Ana")
    [question] = app.fake.sent
    assert question.raw_path == f"/v21.0/{IG['acme']}/messages" and question.token == ACCESS["acme"]
    assert question.json["recipient"] == {"id": JANE} and question.json["messaging_type"] == "RESPONSE"
    replies = question.json["message"]["quick_replies"]
    assert len(replies) == 11 and replies[10] == {
        "content_type": "text",
        "title": "10 · Very likely",
        "payload": f"nps:{survey_id}:10",
    }
    await app.tap(10)
    assert app.fake.sent[-1].json["message"]["text"].startswith("Thank you for the 10!")
    await app.write("Fast replacement, thanks")
    assert app.fake.sent[-1].json["message"]["text"] == "Thank you for your feedback!"
    row = await app.survey(survey_id)
    assert (row.state, row.score, row.comment) == ("completed", 10, "Fast replacement, thanks")


async def test_with_facebook_login_the_linked_page_sends(backend: str, request, tmp_path, clock) -> None:
    async with serve("instagram", backend, request, tmp_path, clock, login="facebook", page_id=PAGE["acme"]) as app:
        await app.write("hi")  # webhook entries still name the Instagram account
        await app.close()
        [question] = app.fake.sent
        assert question.raw_path == f"/v21.0/{PAGE['acme']}/messages"
        await app.tap(8)
        assert app.fake.sent[-1].json["message"]["text"].startswith("Thanks for the 8")


async def test_the_request_has_the_shape_of_metas_instagram_quick_reply_example(app: App) -> None:
    example = doc("instagram_send_quick_replies.json")
    await app.write("hi")
    await app.close()
    sent = app.fake.sent[-1]
    assert sorted(sent.json) == sorted(example["request"]) and sorted(sent.json["message"]) == ["quick_replies", "text"]
    assert all(sorted(r) == sorted(example["request"]["message"]["quick_replies"][0]) for r in app.replies())
    assert sorted(sent.answer or {}) == sorted(example["response"])


async def test_the_documented_quick_reply_event_scores(app: App) -> None:
    await app.write("hi")
    survey_id = await app.close()
    reply = app.replies()[4]
    event = doc("instagram_quick_reply.json", app.subs(**{"<POSTBACK_PAYLOAD_1>": reply["payload"], "<MID>": "m_1"}))
    event["entry"][0]["messaging"][0]["message"]["text"] = reply["title"]
    assert await app.post(event) == 200
    assert (await app.survey(survey_id)).score == 4


async def test_a_typed_score_in_catalan(app: App) -> None:
    await app.write("hola")
    survey_id = await app.close(locale="ca")
    assert app.replies()[0]["title"] == "0 · Gens probable"
    await app.write("un nou")
    assert (await app.survey(survey_id)).score == 9


async def test_messaging_seen_marks_the_question_read(app: App) -> None:
    await app.write("hi")
    survey_id = await app.close()
    app.clock.advance(seconds=30)
    seen = doc("instagram_seen.json", app.subs(**{"MESSAGE-ID": app.fake.sent[0].message_id}))
    seen["entry"][0]["messaging"][0]["timestamp"] = int(app.clock().timestamp() * 1000)
    assert await app.post(seen) == 200
    row = await app.survey(survey_id)
    assert row.question_status == "read" and row.question_status_at == app.clock()


async def test_a_seen_receipt_for_another_message_changes_nothing(app: App) -> None:
    await app.write("hi")
    survey_id = await app.close()
    await app.post(doc("instagram_seen.json", app.subs(**{"MESSAGE-ID": "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlE"})))
    assert (await app.survey(survey_id)).question_status == "sent"
