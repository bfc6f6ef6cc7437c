"""Erasing one person (DELETE /api/v1/contacts/{channel}/{id}), on SQLite and PostgreSQL: afterwards no table, and
no column of any table — tables added by any feature included, found by reflection — holds their id, name or words;
the report's figures are what they were; asking again changes nothing; an unknown person, or one out of the token's
reach, is a 404 (or a 403 for a profile named that is not the token's) that changes nothing; and an erased person
is never surveyed again."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from core.store import Store
from core.store.tables import OutboxRow
from tests import privacy_world as w

ERASE = f"/api/v1/contacts/telegram/{w.PERSON}"
OB = OutboxRow.__table__


fake = pytest.fixture(w.fake_telegram)
bridge = pytest.fixture(w.fake_bridge)


client = pytest.fixture(w.populated_client)


async def test_the_person_is_stored_everywhere_before(client: TestClient, store: Store) -> None:
    """The scan finds what it must, so its silence afterwards means something."""
    found = await w.holding(store, w.NEEDLES)
    tables = {f.split(".")[0] for f in found}
    assert {"surveys", "contacts", "outbox", "inbound_journal", "inbound_keys"} <= tables, found


async def test_erasure_leaves_no_trace_and_the_report_unchanged(client: TestClient, store: Store, fake) -> None:
    before = await w.figures(client)
    control = await w.holding(store, (str(w.CONTROL), "Okafor", "friendly help"))
    resp = await client.delete(ERASE, headers=w.bearer(w.ADMIN))
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert (body["status"], body["profiles"]) == ("erased", ["shop"])
    rows = body["rows"]
    assert rows["surveys"] == 2 and rows["contacts"] == 1 and rows["suppressed"] == 1
    assert rows["outbox_deleted"] >= 1 and rows["outbox_anonymised"] >= 5  # the queued question; the sent history
    assert rows["inbound_journal"] == 1 and rows["inbound_keys"] == 1  # the Idempotency-Key held the id

    assert await w.holding(store, w.NEEDLES) == []
    assert await w.figures(client) == before
    assert (
        await w.holding(store, (str(w.CONTROL), "Okafor", "friendly help")) == control
    )  # the other customer keeps all

    sent = len(fake.calls)
    await w.deliver(client)
    assert len(fake.calls) == sent  # the queued question is gone, not sent later


async def test_sent_messages_keep_their_history(client: TestClient, store: Store) -> None:
    """What was sent stays countable and readable — kind, status, score, agent, event type — without the person."""
    await client.delete(ERASE, headers=w.bearer(w.ADMIN))
    async with store.read() as conn:
        rows = (await conn.execute(select(OB).where(OB.c.status == "sent"))).all()
    alert = next(r for r in rows if r.kind == "detractor_alert")
    assert (alert.payload["score"], alert.payload["agent"], alert.payload["comment"]) == (3, "Marta", None)
    assert alert.payload["customer"].startswith("anon:") and alert.target["conversation_id"] == str(w.SUPPORT)
    events = [r.payload for r in rows if r.kind == "event_notice" and r.payload["data"]["score"] == 3]
    assert {e["type"] for e in events} == {"survey.responded", "survey.completed", "detractor.created"}
    assert all(e["data"]["comment"] is None and e["data"]["metadata"] == {} for e in events)


async def test_the_open_survey_ends_without_changing_the_figures(client: TestClient, store: Store) -> None:
    """The second survey was asked and not answered: it expires at once (still counted as asked)."""
    before = await w.figures(client)
    await client.delete(ERASE, headers=w.bearer(w.ADMIN))
    resp = await client.get("/api/v1/responses?profile=shop", headers=w.bearer(w.ADMIN))
    states = sorted((item["state"], item["score"]) for item in (await resp.json())["items"])
    assert states == [("completed", 3), ("completed", 9), ("expired", None)]
    assert await w.figures(client) == before


async def test_erasing_again_changes_nothing(client: TestClient, store: Store) -> None:
    assert (await client.delete(ERASE, headers=w.bearer(w.ADMIN))).status == 200
    after_first = await w.dump(store, leave_out=("audit_log",))
    resp = await client.delete(ERASE, headers=w.bearer(w.SHOP))
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "already_erased" and body["profiles"] == ["shop"]
    assert set(body["rows"].values()) == {0}
    assert await w.dump(store, leave_out=("audit_log",)) == after_first


@pytest.mark.parametrize(
    ("token", "query", "status"),
    [
        (w.ADMIN, "", 404),  # nobody by that id
        (w.OTHER, "", 404),  # another profile's person is not found
        (w.OTHER, "?profile=shop", 403),  # naming a profile not its own
        (w.SHOP, "?profile=other", 403),
        (w.ADMIN, "?profile=other", 404),  # not in that profile
        (w.ADMIN, "?profile=nope", 404),  # no such profile
    ],
)
async def test_refused_or_unknown_changes_nothing(client: TestClient, store: Store, token, query, status) -> None:
    path = "/api/v1/contacts/telegram/999000111" if (token, query) == (w.ADMIN, "") else ERASE
    before = await w.dump(store, leave_out=("audit_log",))
    trail = (await w.dump(store))["audit_log"]
    resp = await client.delete(path + query, headers=w.bearer(token))
    assert resp.status == status, await resp.text()
    assert await w.dump(store, leave_out=("audit_log",)) == before
    new = [row for row in (await w.dump(store))["audit_log"] if row not in trail]
    assert len(new) == 1  # the attempt itself, as a token use with its status, naming nobody
    assert "token_use" in new[0] and "/api/v1/contacts/{channel}/{id}" in new[0] and str(status) in str(new[0])
    assert not any(n in str(new) for n in w.NEEDLES)


async def test_unauthenticated_changes_nothing_and_is_not_recorded(client: TestClient, store: Store) -> None:
    before = await w.dump(store)
    assert (await client.delete(ERASE)).status == 401
    assert (await client.delete(ERASE, headers=w.bearer("not-a-token"))).status == 401
    assert await w.dump(store) == before


async def test_an_erased_person_is_never_surveyed_again(client: TestClient, store: Store, fake) -> None:
    await client.delete(ERASE, headers=w.bearer(w.ADMIN))
    sent = len(fake.calls)
    created = await w.close(client, w.PERSON, w.NAME, case="third-case")
    assert (created["survey"]["state"], created["survey"]["skip_reason"]) == ("skipped", "suppressed")
    await w.deliver(client)
    assert len(fake.calls) == sent
    assert await w.holding(store, w.NEEDLES) == []  # the skipped survey names nobody, no contact is made again
    resp = await client.get("/api/v1/responses?profile=shop&state=skipped", headers=w.bearer(w.ADMIN))
    assert [i["skip_reason"] for i in (await resp.json())["items"]] == ["suppressed"]
    report = await (await client.get("/api/v1/nps?profile=shop", headers=w.bearer(w.ADMIN))).json()
    assert report["skipped"] == {"suppressed": 1}  # among the report's skip reasons
    # someone else is still surveyed
    other = await w.close(client, w.CONTROL, "Bruno Okafor", case="again")
    assert other["survey"]["state"] == "asked"


async def test_the_request_is_recorded_without_the_address(client: TestClient, store: Store) -> None:
    await client.delete(ERASE, headers=w.bearer(w.SHOP))
    resp = await client.get("/api/v1/audit?action=erase", headers=w.bearer(w.ADMIN))
    [entry] = (await resp.json())["items"]
    assert entry["actor"].startswith("token:") and w.SHOP not in str(entry)
    assert entry["profile"] == "shop" and entry["target"].startswith("person:")
    assert entry["details"]["channel"] == "telegram" and entry["details"]["rows"]["surveys"] == 2
    assert not any(n in str(entry) for n in w.NEEDLES)
