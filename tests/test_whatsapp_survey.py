"""A WhatsApp survey at the wire: the operator API closes the conversation, the question goes out as an interactive
list through the fake Graph API, the customer's pick, typed score and comment come back as signed webhooks shaped
as Meta documents them, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bots.sandbox.graph_api import FakeGraph
from core.messages import MessageCatalog
from core.scoring import classify
from core.store import Store
from tests.whatsapp_app import ACCESS, JANE, NUMBER, App, buttons_of, inbound, pick, rows_of, serve


@pytest.fixture
async def app(store: Store, fake_graph: FakeGraph, clock) -> AsyncIterator[App]:
    async with serve(store, fake_graph, clock) as a:
        yield a


async def test_a_full_survey_list_pick_comment_thanks(app: App, clock) -> None:
    await app.post(inbound("text", at=clock()))  # the customer wrote during the support conversation
    survey_id = await app.close(agent="Marta")
    [question] = app.to()
    assert question.node == NUMBER["acme"] and question.token == ACCESS["acme"]
    assert question.raw_path == f"/v21.0/{NUMBER['acme']}/messages"
    j = question.json
    assert (j["messaging_product"], j["recipient_type"], j["to"], j["type"]) == (
        "whatsapp",
        "individual",
        JANE.key,
        "interactive",
    )
    assert j["interactive"]["type"] == "list" and "Acme" in j["interactive"]["body"]["text"]
    assert "type a number" in j["interactive"]["body"]["text"]  # typing works as well as picking
    assert j["interactive"]["action"]["button"] == "Choose a score"
    rows = rows_of(question)
    assert [r["title"] for r in rows] == ["0", "1 – 2", "3", "4", "5", "6", "7", "8", "9", "10"]
    assert rows[0]["description"] == "Not likely" and rows[-1]["description"] == "Very likely"
    assert (await app.survey(survey_id)).question_ref == question.message_id  # statuses name this wamid

    await app.post(inbound("interactive_list_reply", interactive=pick(question, "9"), context=question.message_id))
    comment_question = app.to()[-1]
    assert comment_question.json["type"] == "text"
    assert comment_question.json["text"]["body"] == "Thank you for the 9! What is the main reason for your score?"

    await app.post(inbound("text", text={"body": "Fast and friendly"}))
    thanks = app.to()[-1]
    assert thanks.json["text"]["body"] == "Thank you for your feedback!"
    row = await app.survey(survey_id)
    assert (row.state, row.score, row.comment, row.agent) == ("completed", 9, "Fast and friendly", "Marta")


@pytest.mark.parametrize("score", range(11))
async def test_every_score_is_at_most_two_taps_away(
    sqlite_store: Store, fake_graph: FakeGraph, clock, score: int
) -> None:
    async with serve(sqlite_store, fake_graph, clock) as app:
        customers = app.customers()
        await customers.write(JANE.key, JANE, "hi")
        survey_id = await app.close()
        taps = 0
        title = str(score) if score not in (1, 2) else "1 – 2"
        await customers.choose(JANE.key, JANE, title)
        taps += 1
        await app.drain()
        if score in (1, 2):
            step = app.to()[-1]
            assert step.json["interactive"]["type"] == "button"
            assert [b["title"] for b in buttons_of(step)] == ["1", "2"]
            assert step.json["interactive"]["body"]["text"] == "Which one is it?"
            await customers.choose(JANE.key, JANE, str(score))
            taps += 1
        row = await app.survey(survey_id)
        assert (row.state, row.score) == ("scored", score)
        assert taps == (2 if score in (1, 2) else 1)


@pytest.mark.parametrize(
    ("locale", "typed", "score"),
    [("en", "nine", 9), ("es", "un ocho", 8), ("ca", "set", 7), ("it", "dieci!", 10), ("pt", "nota 6", 6),
     ("fr", "neuf sur dix", 9), ("de", "0/10", 0)],
)  # fmt: skip
async def test_a_typed_score_in_each_shipped_language(
    sqlite_store: Store, fake_graph: FakeGraph, clock, locale: str, typed: str, score: int
) -> None:
    async with serve(sqlite_store, fake_graph, clock) as app:
        await app.post(inbound("text", at=clock()))
        survey_id = await app.close(locale=locale)
        question = app.to()[-1]
        assert question.json["interactive"]["type"] == "list"
        await app.post(inbound("text", text={"body": typed}))
        assert (await app.survey(survey_id)).score == score
        expected = MessageCatalog().text(f"comment_question_{classify(score)}", locale, score=score)
        assert app.to()[-1].json["text"]["body"] == expected


async def test_the_question_speaks_the_survey_language(app: App, clock) -> None:
    await app.post(inbound("text", at=clock()))
    await app.close(locale="es")
    j = app.to()[-1].json["interactive"]
    assert j["action"]["button"] == "Elegir puntuación" and "escribe un número" in j["body"]["text"]
    rows = j["action"]["sections"][0]["rows"]
    assert rows[0]["description"] == "Nada probable" and rows[-1]["description"] == "Muy probable"


async def test_a_redelivered_message_is_handled_once(app: App, clock) -> None:
    await app.post(inbound("text", at=clock()))
    survey_id = await app.close()
    question = app.to()[-1]
    four = inbound("interactive_list_reply", mid="wamid.PICK-1", interactive=pick(question, "4"))
    await app.post(four)
    comment = inbound("text", mid="wamid.COMMENT-1", text={"body": "ok I guess"})
    await app.post(comment)
    sent = len(app.to())
    assert await app.post(four) == 200  # Meta redelivers a batch it thinks we missed
    assert await app.post(comment) == 200
    row = await app.survey(survey_id)
    assert (row.state, row.score, row.comment) == ("completed", 4, "ok I guess")
    assert len(app.to()) == sent  # nothing answered twice


async def test_statuses_move_the_question_forward_only(app: App, clock) -> None:
    await app.post(inbound("text", at=clock()))
    survey_id = await app.close()
    wamid = app.to()[-1].message_id
    assert wamid is not None

    async def status_is(name: str, expected: str) -> None:
        await app.post(inbound(f"status_{name}", mid=wamid, at=clock()))
        assert (await app.survey(survey_id)).question_status == expected

    await status_is("sent", "sent")
    await status_is("read", "read")  # a read receipt may overtake the delivery receipt
    await status_is("delivered", "read")  # and the late delivery receipt moves nothing back
    await status_is("sent", "read")
    await status_is("failed", "read")  # read is final


async def test_a_status_of_another_message_changes_no_survey(app: App, clock) -> None:
    await app.post(inbound("text", at=clock()))
    survey_id = await app.close()
    assert await app.post(inbound("status_delivered", mid="wamid.SOMETHING-ELSE", at=clock())) == 200
    assert (await app.survey(survey_id)).question_status in (None, "sent")


async def test_a_second_pick_after_the_score_changes_nothing(app: App, clock) -> None:
    await app.post(inbound("text", at=clock()))
    survey_id = await app.close()
    question = app.to()[-1]
    await app.post(inbound("interactive_list_reply", interactive=pick(question, "10")))
    sent = len(app.to())
    await app.post(inbound("interactive_list_reply", interactive=pick(question, "0")))
    row = await app.survey(survey_id)
    assert (row.state, row.score) == ("scored", 10)
    assert len(app.to()) == sent  # no second comment question either
