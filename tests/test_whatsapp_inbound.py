"""What WhatsApp's webhook may bring, at the wire: batches with a bad message in them, changes for another business
number, media, stickers, reactions and locations instead of an answer, forged reply ids, and requests that are not
Meta's at all (unsigned, wrongly signed, malformed, oversized, of another object type, for an unknown profile)."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bots.sandbox.graph_api import FakeGraph
from bots.sandbox.meta_customers import signed
from core.store import Store
from core.store.tables import ContactRow, InboundJournalRow, InboundKeyRow
from tests.whatsapp_app import APP_SECRET, JANE, NUMBER, VERIFY, App, buttons_of, inbound, pick, rows_of, serve

REASK = "Sorry, I didn't catch that. Please reply with a single whole number from 0 to 10."
BOB, ANA = "34600111222", "34600333444"


@pytest.fixture
async def app(store: Store, fake_graph: FakeGraph, clock) -> AsyncIterator[App]:
    async with serve(store, fake_graph, clock) as a:
        yield a


async def asked(app: App, clock, user: str = JANE.key, profile: str = "acme") -> int:
    await app.post(inbound("text", user=user, number=NUMBER[profile], at=clock()), profile=profile)
    return await app.close(user=user, profile=profile)


def texts(app: App, user: str = JANE.key) -> list[str]:
    return [s.json["text"]["body"] for s in app.to(user) if s.json.get("type") == "text"]


async def count(app: App, table: Any) -> int:
    async with app.store.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table.__table__))).scalar_one())


@pytest.mark.parametrize("kind", ["image", "sticker", "location", "reaction", "unsupported", "audio", "contacts"])
async def test_no_text_instead_of_a_score_gets_the_reask(app: App, clock, kind: str) -> None:
    survey_id = await asked(app, clock)
    body = inbound("image" if kind in ("audio", "contacts") else kind)
    message = body["entry"][0]["changes"][0]["value"]["messages"][0]
    if kind == "image":
        del message["image"]["caption"]  # a caption would be text the customer wrote
    if kind == "audio":
        message["type"], message["audio"] = "audio", {"mime_type": "audio/ogg", "id": "1003383421387257", "voice": True}
        del message["image"]
    if kind == "contacts":
        message["type"], message["contacts"] = "contacts", [{"name": {"formatted_name": "Bo"}, "phones": []}]
        del message["image"]
    assert await app.post(body) == 200
    assert texts(app) == [REASK]
    row = await app.survey(survey_id)
    assert (row.state, row.reasks) == ("asked", 1)
    await app.post(inbound("text", text={"body": "6"}))  # the customer then answers
    assert (await app.survey(survey_id)).score == 6


async def test_the_reask_stops_at_the_profile_limit(app: App, clock) -> None:
    survey_id = await asked(app, clock)
    await app.post(inbound("sticker"))
    await app.post(inbound("location"))
    assert texts(app) == [REASK]  # one re-ask (policy.reask_limit), then silence
    assert (await app.survey(survey_id)).state == "asked"


async def test_a_removed_reaction_is_no_message_at_all(app: App, clock) -> None:
    survey_id = await asked(app, clock)
    body = inbound("reaction")
    del body["entry"][0]["changes"][0]["value"]["messages"][0]["reaction"]["emoji"]
    await app.post(body)
    assert texts(app) == [] and (await app.survey(survey_id)).reasks == 0


async def test_a_photo_while_the_comment_is_awaited_leaves_the_comment_question_open(app: App, clock) -> None:
    survey_id = await asked(app, clock)
    await app.post(inbound("interactive_list_reply", interactive=pick(app.to()[-1], "3")))
    photo = inbound("image")
    del photo["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["caption"]
    await app.post(photo)
    await app.post(inbound("sticker"))
    assert (await app.survey(survey_id)).state == "scored"  # still waiting for words
    await app.post(inbound("text", text={"body": "It arrived broken"}))
    row = await app.survey(survey_id)
    assert (row.state, row.comment) == ("completed", "It arrived broken")


async def test_a_caption_is_text(app: App, clock) -> None:
    survey_id = await asked(app, clock)
    await app.post(inbound("text", text={"body": "2"}))
    await app.post(inbound("image", image={"caption": "This is what came", "id": "1003383421387256"}))
    row = await app.survey(survey_id)
    assert (row.state, row.score, row.comment) == ("completed", 2, "This is what came")


async def test_a_batch_with_a_bad_message_handles_the_others(app: App, clock) -> None:
    jane, bob, ana = await asked(app, clock), await asked(app, clock, BOB), await asked(app, clock, ANA)
    question = {user: app.to(user)[-1] for user in (JANE.key, BOB, ANA)}

    def message(user: str, **content: Any) -> dict[str, Any]:
        body = inbound("interactive_list_reply", user=user, **content)
        return body["entry"][0]["changes"][0]["value"]["messages"][0]

    body = inbound("text", at=clock())
    value = body["entry"][0]["changes"][0]["value"]
    bad = {"from": {"not": "a number"}, "id": "wamid.BAD", "type": "text", "text": {"body": "9"}}
    value["messages"] = [
        message(JANE.key, interactive=pick(question[JANE.key], "10")),
        bad,
        message(BOB, interactive=pick(question[BOB], "0")),
        {"type": "text"},  # no id, no sender
    ]
    value["statuses"] = [{"status": "read"}, {"id": "wamid.X", "status": "read", "timestamp": "soon"}]
    body["entry"].append("not an entry")
    second = copy.deepcopy(body["entry"][0])
    second["changes"][0]["value"]["messages"] = [message(ANA, interactive=pick(question[ANA], "7"))]
    second["changes"][0]["value"].pop("statuses")
    body["entry"].append(second)
    assert await app.post(body) == 200
    assert [(await app.survey(i)).score for i in (jane, bob, ana)] == [10, 0, 7]
    assert await count(app, InboundJournalRow) == 0  # worked and gone: the bad parts were skipped, not retried


async def test_a_change_for_another_business_number_is_ignored(app: App, clock) -> None:
    survey_id = await asked(app, clock)
    await app.post(inbound("text", text={"body": "10"}, number="999999999999999"))
    assert (await app.survey(survey_id)).state == "asked"
    contacts_before = await count(app, ContactRow)
    keys_before = await count(app, InboundKeyRow)
    await app.post(inbound("text", user=BOB, number="999999999999999"))
    assert (await count(app, ContactRow), await count(app, InboundKeyRow)) == (contacts_before, keys_before)


async def test_every_customer_message_moves_the_last_inbound_time(app: App, clock) -> None:
    from datetime import timedelta

    await app.post(inbound("sticker", user=BOB, at=clock() - timedelta(hours=3)))
    assert (await app.contact(BOB)).last_inbound_at == clock() - timedelta(hours=3)
    await app.post(inbound("reaction", user=BOB, at=clock() - timedelta(hours=1)))
    await app.post(inbound("text", user=BOB, at=clock() - timedelta(hours=2)))  # late: never moves back
    assert (await app.contact(BOB)).last_inbound_at == clock() - timedelta(hours=1)


async def test_a_reply_naming_another_profiles_survey_is_refused(app: App, clock) -> None:
    tapas = await asked(app, clock, profile="tapas")
    ours = await asked(app, clock)
    question = app.to()[-1]
    forged = pick(question, "10")
    forged["list_reply"]["id"] = forged["list_reply"]["id"].replace(f":{ours}:", f":{tapas}:")
    await app.post(inbound("interactive_list_reply", interactive=forged))
    assert (await app.survey(tapas)).state == "asked" and (await app.survey(ours)).state == "asked"
    template_tap = inbound("button", button={"payload": f"nps:{tapas}:9", "text": "9"})
    await app.post(template_tap)
    assert (await app.survey(tapas)).score is None


async def test_a_reply_naming_another_customers_survey_is_refused(app: App, clock) -> None:
    bobs = await asked(app, clock, BOB)
    bob_question = app.to(BOB)[-1]
    await asked(app, clock)  # Jane has one too
    await app.post(inbound("interactive_list_reply", interactive=pick(bob_question, "0")))  # from Jane
    assert (await app.survey(bobs)).score is None
    more = pick(bob_question, "1 – 2")
    await app.post(inbound("interactive_list_reply", interactive=more))  # the second step for Bob's, from Jane
    assert all(s.json.get("interactive", {}).get("type") != "button" for s in app.to())
    assert len(app.to(BOB)) == 1


async def test_the_second_step_goes_once_per_survey(app: App, clock) -> None:
    await asked(app, clock)
    question = app.to()[-1]
    await app.post(inbound("interactive_list_reply", interactive=pick(question, "1 – 2")))
    await app.post(inbound("interactive_list_reply", interactive=pick(question, "1 – 2")))
    steps = [s for s in app.to() if s.json.get("interactive", {}).get("type") == "button"]
    assert len(steps) == 1 and [b["title"] for b in buttons_of(steps[0])] == ["1", "2"]


async def test_a_choice_that_is_not_ours_reads_as_typed_text(app: App, clock) -> None:
    survey_id = await asked(app, clock)
    other = {"type": "button_reply", "button_reply": {"id": "another-app:confirm", "title": "8"}}
    await app.post(inbound("interactive_button_reply", interactive=other))
    assert (await app.survey(survey_id)).score == 8


async def test_the_webhook_verification_handshake(app: App) -> None:
    ok = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
    resp = await app.client.get("/whatsapp/acme/webhook", params=ok)
    assert (resp.status, await resp.text()) == (200, "1158201444")
    resp = await app.client.get("/whatsapp/acme/webhook", params={**ok, "hub.verify_token": "wrong-token-x"})
    assert resp.status == 403


async def test_requests_that_are_not_metas_are_refused_and_nothing_is_stored(app: App, clock) -> None:
    good = json.dumps(inbound("text", at=clock())).encode()

    async def post(body: bytes, headers: dict[str, str], profile: str = "acme") -> int:
        resp = await app.client.post(f"/whatsapp/{profile}/webhook", data=body, headers=headers)
        await resp.read()
        return resp.status

    _, headers = signed(APP_SECRET, good)
    assert await post(good, {"Content-Type": "application/json"}) == 401  # unsigned
    assert await post(good, signed("another-apps-secret", good)[1]) == 401
    assert await post(good + b" ", headers) == 401  # signed for other bytes
    malformed = b'{"object": "whatsapp_business_account", "entry": [}'
    assert await post(malformed, signed(APP_SECRET, malformed)[1]) == 400
    no_entries = json.dumps({"object": "whatsapp_business_account", "entry": {}}).encode()
    assert await post(no_entries, signed(APP_SECRET, no_entries)[1]) == 400
    page = json.dumps({"object": "page", "entry": []}).encode()
    assert await post(page, signed(APP_SECRET, page)[1]) == 400  # another object type
    huge = json.dumps({**inbound("text"), "padding": "x" * (2 * 1024 * 1024)}).encode()
    assert await post(huge, signed(APP_SECRET, huge)[1]) == 413
    assert await post(good, headers, profile="nobody") == 404
    for table in (InboundJournalRow, InboundKeyRow, ContactRow):
        assert await count(app, table) == 0
    assert await post(good, headers) == 200  # and the same body, signed, is taken


async def test_meta_documented_shapes_are_all_read(app: App, clock) -> None:
    """Each of Meta's examples is accepted and worked without an error (nothing left in the journal)."""
    await asked(app, clock)
    question = app.to()[-1]
    for name in ("text", "interactive_button_reply", "button", "image", "sticker", "location", "reaction"):
        await app.post(inbound(name))
    await app.post(inbound("unsupported"))
    for name in ("sent", "delivered", "read", "failed"):
        await app.post(inbound(f"status_{name}", mid=question.message_id))
    assert await count(app, InboundJournalRow) == 0
    assert rows_of(question)  # the question was the list all along
