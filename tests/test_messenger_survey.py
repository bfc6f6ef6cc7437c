"""A survey on Messenger at the wire, on SQLite and PostgreSQL: the customer writes to the Page, the operator API
closes the conversation, the question goes out as 11 quick replies, a tap scores it, the next text is the comment,
the thanks follow; a typed score works in every language we ship; receipts move the question's status."""

from __future__ import annotations

import pytest

from core.replies import parse_score
from tests.messaging_app import BACKENDS, JANE, PAGE, App, doc, serve


@pytest.fixture(params=BACKENDS)
async def app(request: pytest.FixtureRequest, tmp_path, clock):
    async with serve("messenger", request.param, request, tmp_path, clock) as a:
        yield a


async def test_full_survey_through_quick_replies(app: App) -> None:
    assert await app.write("Hi, my parcel never arrived") == 200
    survey_id = await app.close(agent="Ana")
    [question] = app.fake.sent
    assert question.node == PAGE["acme"] and question.version == "v21.0"
    assert question.raw_path == f"/v21.0/{PAGE['acme']}/messages"
    assert question.token == "EAAG-acme-page-token-0123" and "access_token" not in question.raw_path
    body = question.json
    assert body["recipient"] == {"id": JANE} and body["messaging_type"] == "RESPONSE" and "tag" not in body
    assert "Acme" in body["message"]["text"]
    replies = body["message"]["quick_replies"]
    assert [r["title"] for r in replies] == ["0 · Not likely", *map(str, range(1, 10)), "10 · Very likely"]
    assert [r["payload"] for r in replies] == [f"nps:{survey_id}:{n}" for n in range(11)]
    assert all(r["content_type"] == "text" for r in replies)

    assert await app.tap(3) == 200
    comment_question = app.fake.sent[-1].json
    assert comment_question["message"] == {"text": "We're sorry to hear that (3). What went wrong?"}
    assert comment_question["messaging_type"] == "RESPONSE"
    await app.write("Nobody answered the phone for a week")
    assert app.fake.sent[-1].json["message"]["text"] == "Thank you for your feedback!"

    row = await app.survey(survey_id)
    assert (row.state, row.score, row.comment) == ("completed", 3, "Nobody answered the phone for a week")
    assert row.question_ref == question.message_id and row.question_status == "sent"
    assert len(app.fake.sent) == 3  # question, comment question, thanks: nothing else went to the customer


async def test_the_request_has_the_shape_of_metas_quick_reply_example(app: App) -> None:
    """Same keys, nesting and types as the Quick Replies reference's request, and the answer read as documented."""
    example = doc("messenger_send_quick_replies.json")
    await app.write("hello")
    await app.close()
    sent = app.fake.sent[-1]

    def shape(value: object) -> object:
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shape(value[0])] if value else []
        return type(value).__name__

    assert shape(sent.json) == shape(example["request"])
    assert sorted(sent.answer or {}) == sorted(example["response"])


@pytest.mark.parametrize(
    ("reply", "score"),
    [("9", 9), ("nueve", 9), ("Diria que un 8", 8), ("dix", 10), ("sette", 7), ("nou", 9), ("zehn", 10)],
)
async def test_a_typed_score_in_any_language(app: App, reply: str, score: int) -> None:
    await app.write("hola")
    survey_id = await app.close()
    await app.write(reply)
    row = await app.survey(survey_id)
    assert parse_score(reply) == score and row.score == score and row.state == "scored"
    assert "quick_replies" not in app.fake.sent[-1].json["message"]  # the comment question is plain text


async def test_labels_in_the_customers_language_fit_a_quick_reply(app: App) -> None:
    await app.write("hola")
    await app.close(locale="es")
    titles = [r["title"] for r in app.replies()]
    assert titles[0] == "0 · Nada probable" and titles[10] == "10 · Muy probable"
    assert all(len(t.encode("utf-16-le")) // 2 <= 20 for t in titles)


async def test_an_unreadable_reply_gets_the_question_again(app: App) -> None:
    await app.write("hi")
    survey_id = await app.close()
    await app.write("what do you mean?")
    assert app.fake.sent[-1].json["message"]["text"].startswith("Sorry, I didn't catch that")
    await app.tap(10)
    assert (await app.survey(survey_id)).score == 10


async def test_delivery_and_read_receipts_move_the_question_forward(app: App) -> None:
    await app.write("hi")
    survey_id = await app.close()
    question = app.fake.sent[0]
    app.clock.advance(seconds=5)
    delivery = doc("messenger_delivery.json", app.subs(**{"mid.1458668856218:ed81099e15d3f4f233": question.message_id}))
    delivery["entry"][0]["messaging"][0]["delivery"]["watermark"] = int(app.clock().timestamp() * 1000)
    await app.post(delivery)
    row = await app.survey(survey_id)
    assert row.question_status == "delivered"

    app.clock.advance(seconds=5)
    read = doc("messenger_read.json", app.subs())
    read["entry"][0]["messaging"][0]["timestamp"] = read["entry"][0]["messaging"][0]["read"]["watermark"] = int(
        app.clock().timestamp() * 1000
    )
    await app.post(read)
    row = await app.survey(survey_id)
    assert row.question_status == "read" and row.question_status_at == app.clock()
    await app.post(delivery)  # a late delivery receipt never moves it back
    assert (await app.survey(survey_id)).question_status == "read"


async def test_a_read_watermark_before_the_question_left_changes_nothing(app: App) -> None:
    await app.write("hi")
    before = int(app.clock().timestamp() * 1000) - 60_000
    app.clock.advance(seconds=30)
    survey_id = await app.close()
    read = doc("messenger_read.json", app.subs())
    read["entry"][0]["messaging"][0]["read"]["watermark"] = before
    await app.post(read)
    assert (await app.survey(survey_id)).question_status == "sent"


async def test_a_delivery_receipt_without_mids_counts_by_its_watermark(app: App) -> None:
    await app.write("hi")
    survey_id = await app.close()
    app.clock.advance(seconds=2)
    delivery = doc("messenger_delivery.json", app.subs())
    receipt = delivery["entry"][0]["messaging"][0]["delivery"]
    del receipt["mids"]
    receipt["watermark"] = int(app.clock().timestamp() * 1000)
    await app.post(delivery)
    assert (await app.survey(survey_id)).question_status == "delivered"
