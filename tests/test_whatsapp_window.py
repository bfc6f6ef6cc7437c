"""WhatsApp's 24-hour customer-service window: inside it the question is the interactive list; outside it the
approved template for the survey's language (or the profile's), whose quick reply or a typed answer carries the
survey on; with no template the survey is skipped as outside_window. Meta's 131047, at send time or in a `failed`
status afterwards, counts as outside too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bots.sandbox.graph_api import FakeGraph
from core.store import Store
from tests.whatsapp_app import JANE, App, example, inbound, pick, serve

TEMPLATES = {
    "en": {"name": "nps_survey", "language": "en_US", "body": ["brand"]},
    "es": {"name": "nps_encuesta", "language": "es", "buttons": ["ask", 10, 9]},
}


@pytest.fixture
async def app(store: Store, fake_graph: FakeGraph, clock) -> AsyncIterator[App]:
    async with serve(store, fake_graph, clock, templates=TEMPLATES) as a:
        yield a


async def wrote(app: App, clock, hours_ago: float) -> None:
    await app.post(inbound("text", at=clock() - timedelta(hours=hours_ago)))


async def test_inside_the_window_the_question_is_the_list(app: App, clock) -> None:
    await wrote(app, clock, 23.9)
    await app.close()
    assert app.to()[-1].json["interactive"]["type"] == "list"


async def test_outside_the_window_the_template_asks_and_its_quick_reply_brings_the_list(app: App, clock) -> None:
    await wrote(app, clock, 25)
    contact = await app.contact(JANE.key)
    assert contact.last_inbound_at is not None
    survey_id = await app.close()
    [template] = app.to()
    j = template.json
    assert j["type"] == "template"
    assert j["template"]["name"] == "nps_survey" and j["template"]["language"] == {"code": "en_US"}
    documented = example("send_template")["template"]
    assert [c["type"] for c in j["template"]["components"]] == [c["type"] for c in documented["components"]]
    body, button = j["template"]["components"]
    assert body["parameters"] == [{"type": "text", "text": "Acme"}]
    assert (button["sub_type"], button["index"]) == ("quick_reply", "0")
    payload = button["parameters"][0]["payload"]
    assert (await app.survey(survey_id)).question_ref == template.message_id

    tap = inbound("button", button={"payload": payload, "text": "Answer"}, context=template.message_id, at=clock())
    await app.post(tap)
    question = app.to()[-1]
    assert question.json["interactive"]["type"] == "list"  # the tap opened the window
    assert (await app.survey(survey_id)).question_ref == question.message_id
    await app.post(tap)  # a redelivered or second tap queues nothing more
    assert len(app.to()) == 2

    await app.post(inbound("interactive_list_reply", interactive=pick(question, "7")))
    assert (await app.survey(survey_id)).score == 7


async def test_a_typed_answer_to_the_template_is_read_as_the_score(app: App, clock) -> None:
    await wrote(app, clock, 30)
    survey_id = await app.close()
    assert app.to()[-1].json["type"] == "template"
    await app.post(inbound("text", text={"body": "8"}, at=clock()))
    row = await app.survey(survey_id)
    assert (row.state, row.score) == ("scored", 8)
    assert app.to()[-1].json["text"]["body"].startswith("Thanks for the 8.")


async def test_a_template_button_can_be_a_score(app: App, clock) -> None:
    await wrote(app, clock, 48)
    survey_id = await app.close(locale="es-ES")
    template = app.to()[-1].json["template"]
    assert template["name"] == "nps_encuesta"
    buttons = [c for c in template["components"] if c["type"] == "button"]
    assert [b["index"] for b in buttons] == ["0", "1", "2"]
    ten = buttons[1]["parameters"][0]["payload"]
    await app.post(inbound("button", button={"payload": ten, "text": "¡Un 10!"}, at=clock()))
    row = await app.survey(survey_id)
    assert (row.state, row.score) == ("scored", 10)


async def test_a_locale_without_a_template_falls_back_to_the_profile_default(app: App, clock) -> None:
    await wrote(app, clock, 26)
    await app.close(locale="fr")
    assert app.to()[-1].json["template"]["name"] == "nps_survey"  # acme's default locale is en


async def test_outside_the_window_without_a_template_the_survey_is_skipped(
    store: Store, fake_graph: FakeGraph, clock
) -> None:
    async with serve(store, fake_graph, clock) as app:
        await wrote(app, clock, 25)
        survey_id = await app.close()
        assert app.to() == []  # nothing was sent: Meta would refuse it
        row = await app.survey(survey_id)
        assert (row.state, row.skip_reason) == ("skipped", "outside_window")
        [dead] = [r for r in await app.outbox() if r.status == "dead"]
        assert dead.kind == "ask_score" and "window" in dead.last_error


async def test_never_seen_writing_the_list_is_tried_and_meta_131047_falls_back_to_the_template(
    app: App, fake_graph: FakeGraph, clock
) -> None:
    """A help desk's inbox got the customer's messages, so npsbot does not know when they last wrote."""
    assert await app.contact(JANE.key) is None
    fake_graph.fail(**_error("re_engagement"))
    survey_id = await app.close()
    refused, template = app.to()
    assert refused.json["type"] == "interactive" and refused.message_id is None
    assert template.json["type"] == "template"
    assert (await app.survey(survey_id)).state == "asked"


async def test_never_seen_writing_the_list_goes_out_when_meta_takes_it(app: App, clock) -> None:
    await app.close()
    assert app.to()[-1].json["interactive"]["type"] == "list"


async def test_a_failed_status_131047_skips_the_unanswered_survey(store: Store, fake_graph: FakeGraph, clock) -> None:
    async with serve(store, fake_graph, clock) as app:
        await app.close()  # never seen writing: the list is tried and Meta takes it, then fails it
        [question] = app.to()
        failed = inbound("status_failed", mid=question.message_id, at=clock())
        failed["entry"][0]["changes"][0]["value"]["statuses"][0]["errors"][0]["code"] = 131047
        await app.post(failed)
        [row] = await app.surveys()
        assert (row.state, row.skip_reason, row.question_status) == ("skipped", "outside_window", "failed")


def _error(name: str) -> dict[str, object]:
    e = example("errors")[name]
    err = e["error"]
    return {"code": err["code"], "status": e["status"], "message": err["message"]}
