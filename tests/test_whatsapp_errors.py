"""Cloud API errors (Meta's documented envelopes, tests/payloads/meta/whatsapp_errors.json) in npsbot's terms, at the
wire: rate limits wait and retry, 131026 marks the customer unreachable, a bad token or a refused request or
template is a dead letter with one WARNING that names no customer, Meta's own failures are retried; and a send
outside the window that has nowhere to fall back to skips the survey."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from adapters.whatsapp.errors import for_code
from bots.sandbox.graph_api import FakeGraph
from core.delivery import DeliveryError, OutsideWindow, PermanentFailure, RetryLater
from core.store import Store
from tests.whatsapp_app import JANE, App, example, inbound, pick, serve

ERRORS = example("errors")
FINAL_WITH_WARNING = [
    "access_token_expired",
    "invalid_parameter",
    "missing_parameter",
    "template_parameters",
    "template_missing",
]


def fault(name: str, **kw: Any) -> dict[str, Any]:
    e = ERRORS[name]
    err = e["error"]
    details = (err.get("error_data") or {}).get("details")
    extra = {"subcode": err["error_subcode"]} if "error_subcode" in err else {}
    return {"code": err["code"], "status": e["status"], "message": err["message"], "details": details, **extra, **kw}


@pytest.fixture
async def app(store: Store, fake_graph: FakeGraph, clock) -> AsyncIterator[App]:
    templates = {"en": {"name": "nps_survey", "language": "en_US"}}
    async with serve(store, fake_graph, clock, templates=templates) as a:
        yield a


@pytest.mark.parametrize(
    ("name", "kind", "retry_after", "unreachable"),
    [
        ("throughput", RetryLater, 2.0, False),
        ("pair_rate_limit", RetryLater, 6.0, False),
        ("re_engagement", OutsideWindow, None, False),
        ("undeliverable", PermanentFailure, None, True),
        *[(name, PermanentFailure, None, False) for name in FINAL_WITH_WARNING],
        ("unknown", DeliveryError, None, False),
        ("service_unavailable", DeliveryError, None, False),
    ],
)
def test_each_documented_error_maps_to_its_rule(
    name: str, kind: type[DeliveryError], retry_after: float | None, unreachable: bool
) -> None:
    e = ERRORS[name]
    error = for_code(e["status"], e["error"]["code"], e["error"].get("error_subcode"))
    assert type(error) is kind
    assert getattr(error, "retry_after", None) == retry_after
    assert getattr(error, "unreachable", False) is unreachable
    assert e["error"]["message"] not in str(error)  # Meta's text stays out of last_error
    assert str(e["error"]["code"]) in str(error)


def test_unknown_codes_follow_the_http_status() -> None:
    assert type(for_code(502, None)) is DeliveryError
    assert type(for_code(429, 999)) is RetryLater
    assert type(for_code(400, 999)) is PermanentFailure


async def wrote(app: App, clock) -> None:
    await app.post(inbound("text", at=clock()))


@pytest.mark.parametrize(("name", "delay"), [("throughput", 2.0), ("pair_rate_limit", 6.0)])
async def test_rate_limits_wait_and_retry(app: App, fake_graph: FakeGraph, clock, name: str, delay: float) -> None:
    await wrote(app, clock)
    fake_graph.fail(**fault(name))
    survey_id = await app.close()
    [row] = [r for r in await app.outbox() if r.kind == "ask_score"]
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at == clock() + timedelta(seconds=delay)
    assert str(ERRORS[name]["error"]["code"]) in row.last_error
    clock.advance(seconds=delay)
    await app.drain()
    assert [s.json["type"] for s in app.to()] == ["interactive", "interactive"]  # refused, then taken
    assert (await app.survey(survey_id)).question_ref == app.to()[-1].message_id


@pytest.mark.parametrize("name", ["unknown", "service_unavailable"])
async def test_metas_own_failures_are_retried(app: App, fake_graph: FakeGraph, clock, name: str) -> None:
    await wrote(app, clock)
    fake_graph.fail(**fault(name))
    await app.close()
    [row] = [r for r in await app.outbox() if r.kind == "ask_score"]
    assert (row.status, row.attempts) == ("pending", 1) and row.next_attempt_at > clock()


async def test_undeliverable_marks_the_customer_unreachable(app: App, fake_graph: FakeGraph, clock) -> None:
    await wrote(app, clock)
    fake_graph.fail(**fault("undeliverable"))
    survey_id = await app.close()
    [row] = [r for r in await app.outbox() if r.kind == "ask_score"]
    assert row.status == "dead" and "131026" in row.last_error
    assert (await app.contact(JANE.key)).unreachable_at is not None
    assert (await app.survey(survey_id)).skip_reason == "unreachable"


async def test_undeliverable_reported_after_the_send_marks_the_customer_unreachable(app: App, clock) -> None:
    """Meta accepted the question, then reported it failed with 131026 in a status (the documented failed status
    example carries exactly this code): the customer is marked as a refusal at send time marks them."""
    await wrote(app, clock)
    survey_id = await app.close()
    [question] = app.to()
    assert await app.post(inbound("status_failed", mid=question.message_id, at=clock())) == 200
    row = await app.survey(survey_id)
    assert (row.state, row.skip_reason, row.question_status) == ("skipped", "unreachable", "failed")
    assert (await app.contact(JANE.key)).unreachable_at is not None
    clock.advance(days=40)
    await wrote(app, clock)
    again = await app.survey(await app.close(conversation_id="later"))
    assert (again.state, again.skip_reason) == ("skipped", "unreachable")  # nobody asks them again


async def test_an_undeliverable_report_for_an_answered_question_changes_nothing(app: App, clock) -> None:
    """They answered it, so the late 131026 is stale: the status is recorded, the customer and survey stay."""
    await wrote(app, clock)
    survey_id = await app.close()
    [question] = app.to()
    await app.post(inbound("interactive_list_reply", interactive=pick(question, "8")))
    assert await app.post(inbound("status_failed", mid=question.message_id, at=clock())) == 200
    row = await app.survey(survey_id)
    assert (row.state, row.score, row.skip_reason, row.question_status) == ("scored", 8, None, "failed")
    assert (await app.contact(JANE.key)).unreachable_at is None


@pytest.mark.parametrize("name", FINAL_WITH_WARNING)
async def test_refused_token_request_or_template_is_final_and_warned_once(
    app: App, fake_graph: FakeGraph, clock, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    await wrote(app, clock)
    fake_graph.fail(**fault(name))
    with caplog.at_level(logging.INFO):
        await app.close()
    [row] = [r for r in await app.outbox() if r.kind == "ask_score"]
    assert row.status == "dead" and row.attempts == 1
    code = str(ERRORS[name]["error"]["code"])
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("adapters.whatsapp")]
    assert len(warnings) == 1 and code in warnings[0]
    for record in caplog.records:
        if record.levelno >= logging.INFO:
            text = record.getMessage()
            assert JANE.key not in text and ERRORS[name]["error"]["message"] not in text


async def test_a_refused_template_is_a_dead_letter_naming_it(app: App, fake_graph: FakeGraph, clock) -> None:
    await app.post(inbound("text", at=clock() - timedelta(hours=30)))
    fake_graph.fail(**fault("template_missing"))
    survey_id = await app.close()
    [template] = app.to()
    assert template.json["type"] == "template"
    [row] = [r for r in await app.outbox() if r.kind == "ask_score"]
    assert row.status == "dead" and "132001" in row.last_error
    assert (await app.survey(survey_id)).state == "asked"  # not the window's fault: an operator must fix it


async def test_the_comment_question_outside_the_window_is_a_dead_letter(app: App, fake_graph: FakeGraph, clock) -> None:
    await wrote(app, clock)
    survey_id = await app.close()
    fake_graph.fail(**fault("re_engagement"))
    await app.post(inbound("interactive_list_reply", interactive=pick(app.to()[-1], "9")))
    [row] = [r for r in await app.outbox() if r.kind == "ask_comment"]
    assert row.status == "dead" and "131047" in row.last_error
    assert (await app.survey(survey_id)).state == "scored"  # the score stands


async def test_the_token_goes_in_the_header_only(app: App, fake_graph: FakeGraph, clock) -> None:
    await wrote(app, clock)
    await app.close()
    [question] = app.to()
    assert question.headers["Authorization"].startswith("Bearer EAAG-acme")
    assert "EAAG" not in question.raw_path


async def test_a_bad_token_refusing_every_send_is_warned_about_once(
    app: App, fake_graph: FakeGraph, clock, caplog: pytest.LogCaptureFixture
) -> None:
    for user in ("34600000001", "34600000002", "34600000003"):
        await app.post(inbound("text", user=user, at=clock()))
    fake_graph.fail(**fault("access_token_expired", times=3))
    with caplog.at_level(logging.INFO):
        for user in ("34600000001", "34600000002", "34600000003"):
            await app.close(user=user)
    assert [r.status for r in await app.outbox()] == ["dead"] * 3
    mine = [r for r in caplog.records if r.name.startswith("adapters.whatsapp")]
    assert [r.levelno for r in mine] == [logging.WARNING, logging.INFO, logging.INFO]
    await app.post(inbound("text", user="34600000004", at=clock()))
    await app.close(user="34600000004")  # the token was renewed: this one goes through
    assert app.to("34600000004")[-1].message_id is not None
    caplog.clear()
    await app.post(inbound("text", user="34600000005", at=clock()))
    with caplog.at_level(logging.INFO):
        fake_graph.fail(**fault("access_token_expired"))
        await app.close(user="34600000005")
    mine = [r for r in caplog.records if r.name.startswith("adapters.whatsapp")]
    assert [r.levelno for r in mine] == [logging.WARNING]  # refused again after a success: warned again
