"""No message text or personal data in logs at INFO and above on WhatsApp: a survey at the wire with everything that
logs (a refused reply, a media re-ask, a failed status, a change for another number, a refused token), logging at
DEBUG, and every INFO+ record read."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from bots.sandbox.graph_api import FakeGraph
from core.store import Store
from tests.whatsapp_app import App, example, inbound, pick, serve

WA_ID, NAME = "34699887766", "Zoë Quintanilla"
OPENING = "xylophonic billing trouble with my account"
COMMENT = "pterodactyl slow support, write me at zoe.q@example.org"


@pytest.fixture
async def app(store: Store, fake_graph: FakeGraph, clock) -> AsyncIterator[App]:
    async with serve(store, fake_graph, clock) as a:
        yield a


def named(body: dict) -> dict:
    for contact in body["entry"][0]["changes"][0]["value"].get("contacts", []):
        contact["profile"]["name"] = NAME
    return body


async def test_no_info_record_holds_customer_text_names_or_ids(
    app: App, fake_graph: FakeGraph, clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await app.post(named(inbound("text", user=WA_ID, text={"body": OPENING}, at=clock())))
    survey_id = await app.close(user=WA_ID, customer_name=NAME)
    question = app.to(WA_ID)[-1]
    await app.post(named(inbound("sticker", user=WA_ID)))  # the re-ask
    forged = pick(question, "9")
    forged["list_reply"]["id"] = forged["list_reply"]["id"].replace(f":{survey_id}:", f":{survey_id + 1000}:")
    await app.post(named(inbound("interactive_list_reply", user=WA_ID, interactive=forged)))  # refused
    await app.post(named(inbound("interactive_list_reply", user=WA_ID, interactive=pick(question, "3"))))
    failed = inbound("status_failed", user=WA_ID, mid=question.message_id, at=clock())
    await app.post(failed)
    await app.post(named(inbound("text", user=WA_ID, number="999999999999999", text={"body": OPENING})))
    token = example("errors")["access_token_expired"]["error"]
    fake_graph.fail(token["code"], status=401, message=token["message"])
    await app.post(named(inbound("text", user=WA_ID, text={"body": COMMENT})))  # the thanks is refused: 190
    assert (await app.survey(survey_id)).comment.startswith("pterodactyl slow support")  # an email is redacted
    records = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert any("refused" in r.getMessage() for r in records)  # the channel did log what happened
    secrets = [WA_ID, NAME, OPENING, "xylophonic", COMMENT, "pterodactyl", "zoe.q@example.org", token["message"]]
    for record in records:
        text = record.getMessage() + " ".join(map(str, record.args or ()))
        for secret in secrets:
            assert secret not in text, (record.name, text)
