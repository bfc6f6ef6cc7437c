"""Messenger's 24-hour window, on SQLite and PostgreSQL: inside it the question is a RESPONSE; outside it only the
operator's HUMAN_AGENT tag (within its 7 days) carries it, else nothing is sent and the survey is skipped as
outside_window, recorded in the report; Meta refusing for the window falls back the same way."""

from __future__ import annotations

import pytest

from tests.messaging_app import ADMIN, BACKENDS, App, fail, serve


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def app(backend: str, request: pytest.FixtureRequest, tmp_path, clock):
    async with serve("messenger", backend, request, tmp_path, clock) as a:
        yield a


@pytest.fixture
async def tagged(backend: str, request: pytest.FixtureRequest, tmp_path, clock):
    async with serve("messenger", backend, request, tmp_path, clock, message_tag="HUMAN_AGENT") as a:
        yield a


async def skipped_by_reason(app: App) -> dict[str, int]:
    resp = await app.client.get("/api/v1/nps?profile=acme", headers={"Authorization": f"Bearer {ADMIN}"})
    assert resp.status == 200
    return dict((await resp.json())["skipped"])


async def test_outside_the_window_without_a_tag_nothing_is_sent_and_the_survey_is_skipped(app: App) -> None:
    await app.write("Where is my refund?")
    app.clock.advance(hours=25)
    survey_id = await app.close()
    assert app.fake.sent == []  # Meta would refuse it, and no tag may carry a survey
    row = await app.survey(survey_id)
    assert (row.state, row.skip_reason) == ("skipped", "outside_window")
    [dead] = await app.dead()
    assert dead.kind == "ask_score" and "24 hours" in dead.last_error
    assert (await skipped_by_reason(app)).get("outside_window") == 1


async def test_within_the_window_the_question_is_a_response(app: App) -> None:
    await app.write("thanks for the help")
    app.clock.advance(hours=23, minutes=59)
    await app.close()
    [question] = app.fake.sent
    assert question.json["messaging_type"] == "RESPONSE" and "tag" not in question.json


async def test_with_human_agent_configured_the_question_goes_with_the_tag(tagged: App) -> None:
    await tagged.write("Where is my refund?")
    tagged.clock.advance(days=3)
    survey_id = await tagged.close()
    [question] = tagged.fake.sent
    assert question.json["messaging_type"] == "MESSAGE_TAG" and question.json["tag"] == "HUMAN_AGENT"
    assert len(question.json["message"]["quick_replies"]) == 11
    assert (await tagged.survey(survey_id)).state == "asked"
    await tagged.tap(9)  # the tap reopens the window: the comment question is an ordinary response again
    assert tagged.fake.sent[-1].json["messaging_type"] == "RESPONSE"


async def test_past_the_tags_seven_days_the_survey_is_skipped(tagged: App) -> None:
    await tagged.write("Where is my refund?")
    tagged.clock.advance(days=7, minutes=1)
    survey_id = await tagged.close()
    assert tagged.fake.sent == []
    row = await tagged.survey(survey_id)
    assert (row.state, row.skip_reason) == ("skipped", "outside_window")


async def test_meta_refusing_for_the_window_skips_the_survey_without_a_tag(app: App) -> None:
    """A customer whose messages went to a help desk: npsbot never saw them, so Meta decides."""
    fail(app, "outside_window")
    survey_id = await app.close()
    [refused] = app.fake.sent
    assert refused.json["messaging_type"] == "RESPONSE" and refused.message_id is None
    row = await app.survey(survey_id)
    assert (row.state, row.skip_reason) == ("skipped", "outside_window")
    [dead] = await app.dead()
    assert "2018278" in dead.last_error and "outside" in dead.last_error


async def test_meta_refusing_for_the_window_retries_with_the_tag(tagged: App) -> None:
    fail(tagged, "outside_window_subscription")
    survey_id = await tagged.close()
    refused, tagged_again = tagged.fake.sent
    assert refused.json["messaging_type"] == "RESPONSE"
    assert tagged_again.json["messaging_type"] == "MESSAGE_TAG" and tagged_again.json["tag"] == "HUMAN_AGENT"
    row = await tagged.survey(survey_id)
    assert row.state == "asked" and row.question_ref == tagged_again.message_id


async def test_a_later_message_from_the_customer_reopens_the_window(app: App) -> None:
    await app.write("hello")
    app.clock.advance(days=2)
    await app.write("are you there?")
    app.clock.advance(hours=1)
    await app.close()
    assert app.fake.sent[0].json["messaging_type"] == "RESPONSE"


async def test_a_redelivered_old_message_never_closes_a_window_a_newer_one_opened(app: App) -> None:
    old = app.message("hello")
    app.clock.advance(hours=30)
    await app.write("still waiting")
    await app.post(old)  # Meta redelivers yesterday's batch
    await app.close()
    assert app.fake.sent[0].json["messaging_type"] == "RESPONSE"
