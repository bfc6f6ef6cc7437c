"""Instagram's 24-hour window and send errors: Meta documents the HUMAN_AGENT tag for Instagram as for Messenger
(a person answering within 7 days), so the same rules hold; Instagram's own window refusal (10/2534022) skips the
survey or falls back to the tag; its rate limit, unavailable person and refused token map as Messenger's do."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.messaging_app import OUTBOX, App, fail, serve


@pytest.fixture
async def app(request: pytest.FixtureRequest, tmp_path, clock):
    async with serve("instagram", "sqlite", request, tmp_path, clock) as a:
        yield a


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def tagged(request: pytest.FixtureRequest, tmp_path, clock):
    async with serve("instagram", request.param, request, tmp_path, clock, message_tag="HUMAN_AGENT") as a:
        yield a


async def test_outside_the_window_without_a_tag_the_survey_is_skipped(app: App) -> None:
    await app.write("hi")
    app.clock.advance(hours=30)
    survey_id = await app.close()
    assert app.fake.sent == []
    row = await app.survey(survey_id)
    assert (row.state, row.skip_reason) == ("skipped", "outside_window")


async def test_human_agent_carries_the_question_within_seven_days(tagged: App) -> None:
    await tagged.write("hi")
    tagged.clock.advance(days=6)
    await tagged.close()
    [question] = tagged.fake.sent
    assert (question.json["messaging_type"], question.json["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")


async def test_instagrams_window_refusal_falls_back_to_the_tag(tagged: App) -> None:
    fail(tagged, "outside_window")
    survey_id = await tagged.close()
    refused, again = tagged.fake.sent
    assert refused.json["messaging_type"] == "RESPONSE" and again.json["tag"] == "HUMAN_AGENT"
    assert (await tagged.survey(survey_id)).question_ref == again.message_id


async def test_instagrams_window_refusal_without_a_tag_skips_the_survey(app: App) -> None:
    fail(app, "outside_window")
    survey_id = await app.close()
    row = await app.survey(survey_id)
    assert (row.state, row.skip_reason) == ("skipped", "outside_window")
    [dead] = await app.dead()
    assert "2534022" in dead.last_error and "allowed window" not in dead.last_error


async def test_a_person_who_cant_be_reached_is_marked_unreachable(app: App) -> None:
    await app.write("hi")
    fail(app, "person_unavailable")
    survey_id = await app.close()
    assert (await app.survey(survey_id)).skip_reason == "unreachable"


async def test_a_rate_limit_waits(app: App) -> None:
    await app.write("hi")
    fail(app, "api_rate_limit")
    await app.close()
    async with app.store.read() as conn:
        row = (await conn.execute(select(OUTBOX).where(OUTBOX.c.kind == "ask_score"))).one()
    assert row.status == "pending" and row.last_error.startswith("rate limited")


async def test_a_refused_token_is_a_dead_letter(app: App) -> None:
    await app.write("hi")
    fail(app, "invalid_token")
    survey_id = await app.close()
    [dead] = await app.dead()
    assert "access token refused" in dead.last_error and "Cannot parse" not in dead.last_error
    assert (await app.survey(survey_id)).state == "asked"


async def test_a_long_question_is_cut_to_instagrams_1000_bytes(request, tmp_path, clock) -> None:
    async with serve("instagram", "sqlite", request, tmp_path, clock) as app:
        channel = app.channel()
        cut = channel.text("€" * 600)  # 1800 bytes of UTF-8
        assert len(cut.encode()) <= 1000 and cut.endswith("…")
