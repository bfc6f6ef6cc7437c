"""Send API errors as Meta documents them (tests/payloads/meta/messenger_errors.json), answered by the fake Graph API,
and what the worker does with each: rate limits wait and retry, a person who can't be reached is marked unreachable,
a refused token is final and logged once without personal data, server trouble is retried, anything else is a dead
letter; the stored error names Meta's codes, never its message text."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.messaging_app import ACCESS, CONTACTS, JANE, OUTBOX, App, doc, fail, serve

ERRORS = doc("messenger_errors.json")


@pytest.fixture
async def app(request: pytest.FixtureRequest, tmp_path, clock):
    async with serve("messenger", "sqlite", request, tmp_path, clock) as a:
        await a.write("Hi, any news on my order?")  # the window is open
        yield a


async def question_row(app: App) -> object:
    async with app.store.read() as conn:
        return (await conn.execute(select(OUTBOX).where(OUTBOX.c.kind == "ask_score"))).one()


def no_meta_text(error: str, name: str) -> None:
    message = ERRORS[name]["error"]["message"]
    assert message not in error and "isn't" not in error, error


@pytest.mark.parametrize(
    "name", ["application_rate_limit", "too_many_sends", "api_rate_limit", "user_rate_limit", "page_rate_limit"]
)
async def test_rate_limits_wait_and_retry(app: App, name: str) -> None:
    fail(app, name, retry_after=1)  # a proxy's Retry-After is honoured; Meta names no wait (60 s then)
    survey_id = await app.close()
    row = await question_row(app)
    assert row.status == "pending" and row.attempts == 1 and row.last_error.startswith("rate limited")
    assert row.next_attempt_at == app.clock() + timedelta(seconds=1)
    code = str(ERRORS[name]["error"]["code"])
    assert f"error {code}" in row.last_error
    no_meta_text(row.last_error, name)
    app.clock.advance(seconds=2)
    await app.drain()
    assert (await question_row(app)).status == "sent" and len(app.fake.sent) == 2
    assert (await app.survey(survey_id)).state == "asked"


async def test_a_rate_limit_without_a_wait_pauses_a_minute(app: App) -> None:
    fail(app, "api_rate_limit")
    await app.close()
    row = await question_row(app)
    assert row.status == "pending" and row.next_attempt_at == app.clock() + timedelta(seconds=60)


@pytest.mark.parametrize("name", ["person_unavailable", "no_matching_user"])
async def test_a_person_who_cant_be_reached_is_marked_unreachable(app: App, name: str) -> None:
    fail(app, name)
    survey_id = await app.close()
    [dead] = await app.dead()
    assert dead.kind == "ask_score" and "unreachable" in dead.last_error
    no_meta_text(dead.last_error, name)
    row = await app.survey(survey_id)
    assert (row.state, row.skip_reason) == ("skipped", "unreachable")
    async with app.store.read() as conn:
        contact = (await conn.execute(select(CONTACTS).where(CONTACTS.c.user_id == JANE))).one()
    assert contact.unreachable_at is not None


async def test_a_refused_token_is_final_and_logged_once_without_personal_data(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    fail(app, "invalid_token", times=2)
    with caplog.at_level(logging.INFO):
        await app.close()
        await app.write("hello again", customer="1254477777772999")
        await app.close(customer="1254477777772999")
    dead = await app.dead()
    assert len(dead) == 2 and all("access token refused" in d.last_error and "190" in d.last_error for d in dead)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and "access token" in r.getMessage()]
    assert len(warnings) == 1
    logged = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert JANE not in logged and "1254477777772999" not in logged and ACCESS["acme"] not in logged
    assert "hello again" not in logged and "Invalid OAuth" not in logged


@pytest.mark.parametrize("name", ["temporary_failure", "unexpected"])
async def test_meta_server_trouble_is_retried(app: App, name: str) -> None:
    fail(app, name)
    await app.close()
    row = await question_row(app)
    assert row.status == "pending" and row.attempts == 1 and str(ERRORS[name]["error"]["code"]) in row.last_error
    app.clock.advance(minutes=5)
    await app.drain()
    assert (await question_row(app)).status == "sent"


async def test_any_other_error_is_a_dead_letter(app: App) -> None:
    fail(app, "invalid_parameter")
    survey_id = await app.close()
    [dead] = await app.dead()
    assert "error 100" in dead.last_error and "unreachable" not in dead.last_error
    assert (await app.survey(survey_id)).state == "asked"  # expires as usual; nobody is marked unreachable


async def test_a_bad_gateway_page_is_retried_and_its_body_never_stored(app: App) -> None:
    app.fake.misbehave(502, b"<html>proxy says: secret internal host 10.0.0.7</html>")
    await app.close()
    row = await question_row(app)
    assert row.status == "pending" and row.last_error == "502 Bad Gateway"


async def test_a_redirect_is_refused_and_the_token_goes_nowhere(app: App) -> None:
    app.fake.misbehave(307, redirect_to="http://127.0.0.1:9")
    await app.close()
    [dead] = await app.dead()
    assert dead.last_error == "307 redirect refused"
    assert [h.raw_path for h in app.fake.heard if h.method == "POST"] == [app.fake.sent[0].raw_path]
