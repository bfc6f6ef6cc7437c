"""Exporting one person (GET /api/v1/contacts/{channel}/{id}, and /export): everything stored about them and
nothing about anyone else, the same scope rules as erasure, the export itself in the audit log, texts as the
profile shows them — on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from core.store import Store
from tests import privacy_world as w

PATH = f"/api/v1/contacts/telegram/{w.PERSON}"
fake = pytest.fixture(w.fake_telegram)
bridge = pytest.fixture(w.fake_bridge)


client = pytest.fixture(w.populated_client)


async def _export(client: TestClient, token: str = w.ADMIN, path: str = PATH) -> dict:
    resp = await client.get(path, headers=w.bearer(token))
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_everything_about_them_and_nothing_about_others(client: TestClient) -> None:
    found = await _export(client)
    assert (found["channel"], found["user_id"], found["profiles"], found["suppressed_in"]) == (
        "telegram", str(w.PERSON), ["shop"], [],
    )  # fmt: skip
    [contact] = found["contacts"]
    assert (contact["name"], contact["user_id"], contact["profile"]) == (w.NAME, str(w.PERSON), "shop")
    first, second = found["surveys"]
    assert (first["score"], first["comment"], first["customer_name"]) == (3, w.COMMENT, w.NAME)
    assert first["metadata"] == {"email": w.EMAIL, "plan": "pro"} and first["agent"] == "Marta"
    assert first["claimed_at"] is not None and "claimed_by" not in first  # handled, but not who handled it
    assert (second["state"], second["case_id"]) == ("asked", "second-case")
    to_them = [m for m in found["messages"] if "payload" in m]
    kinds = sorted(m["kind"] for m in to_them)
    assert kinds.count("ask_score") == 2 and "ask_comment" in kinds and "say" in kinds  # incl. the queued question
    assert all(m["to"]["user_id"] == str(w.PERSON) for m in to_them)
    about_them = [m for m in found["messages"] if "payload" not in m]
    assert {m["kind"] for m in about_them} == {"detractor_alert", "event_notice"}  # the fact, not the content
    [raw] = found["inbound_requests"]
    assert w.COMMENT in raw["body"] and raw["status"] == "dead"
    assert [(e["action"], e["target"]) for e in found["audit"]] == [("claim", f"survey:{client.detractor}")]
    assert "actor" not in found["audit"][0]
    text = str(found)
    for other in (str(w.CONTROL), "Okafor", w.CONTROL_COMMENT, w.CLAIMER):
        assert other not in text


async def test_both_paths_give_the_same_and_each_export_is_recorded(client: TestClient) -> None:
    a = await _export(client, w.SHOP)
    b = await _export(client, w.SHOP, PATH + "/export")
    assert {**a, "audit": None, "exported_at": None} == {**b, "audit": None, "exported_at": None}
    resp = await client.get("/api/v1/audit?action=export", headers=w.bearer(w.ADMIN))
    entries = (await resp.json())["items"]
    assert len(entries) == 2 and {e["target"] for e in entries} == {entries[0]["target"]}
    assert entries[0]["target"].startswith("person:") and entries[0]["profile"] == "shop"
    assert entries[0]["details"]["rows"]["surveys"] == 2
    assert not any(n in str(entries) for n in w.NEEDLES)
    assert ("export", entries[0]["target"]) in [(e["action"], e["target"]) for e in b["audit"]]  # the first one


@pytest.mark.parametrize(
    ("token", "query", "status"),
    [(w.OTHER, "", 404), (w.OTHER, "?profile=shop", 403), (w.ADMIN, "?profile=other", 404), (w.SHOP, "", 200)],
)
async def test_scope(client: TestClient, store: Store, token: str, query: str, status: int) -> None:
    before = await w.dump(store)
    resp = await client.get(PATH + query, headers=w.bearer(token))
    assert resp.status == status
    if status != 200:  # a refused or fruitless export is not recorded: a read changes nothing
        assert await w.dump(store) == before


async def test_unknown_person(client: TestClient, store: Store) -> None:
    before = await w.dump(store)
    resp = await client.get("/api/v1/contacts/telegram/123450000", headers=w.bearer(w.ADMIN))
    assert resp.status == 404 and (await resp.json()) == {"error": "no such contact"}
    for path in ("/api/v1/contacts/telegram/" + "9" * 129, "/api/v1/contacts/" + "t" * 33 + "/1"):
        assert (await client.get(path, headers=w.bearer(w.ADMIN))).status == 404
    assert await w.dump(store) == before


async def test_after_erasure_only_the_suppression_and_the_trail_are_left(client: TestClient) -> None:
    assert (await client.delete(PATH, headers=w.bearer(w.ADMIN))).status == 200
    found = await _export(client)
    assert found["suppressed_in"] == ["shop"] and found["profiles"] == ["shop"]
    assert found["contacts"] == found["surveys"] == found["messages"] == found["inbound_requests"] == []
    assert [e["action"] for e in found["audit"]] == ["erase"]


async def test_texts_are_shown_as_the_profile_shows_them(store: Store, clock, fake, bridge) -> None:
    """A profile that stores comments as written and shows them redacted exports them redacted too."""
    card = "4111 1111 1111 1111"
    async with w.served(store, clock, fake, bridge, redaction={"mode": "show_redacted"}) as client:
        await w.populate(client, clock, comment=f"{w.COMMENT}, charged twice on {card}")
        found = await _export(client)
        assert found["surveys"][0]["comment"] == f"{w.COMMENT}, charged twice on [card]"
        assert card not in str(found)
        # an access request that must hand over everything: admins only, and on record as such
        assert (await client.get(PATH + "?unredacted=true", headers=w.bearer(w.SHOP))).status == 403
        stored = await _export(client, path=PATH + "?unredacted=true")
        assert stored["surveys"][0]["comment"] == f"{w.COMMENT}, charged twice on {card}"
        resp = await client.get("/api/v1/audit?action=export", headers=w.bearer(w.ADMIN))
        assert [e["details"]["redacted"] for e in (await resp.json())["items"]] == [False, True]
