"""The contact endpoints through the real app, on SQLite and PostgreSQL: PUT answers the stored record, bulk keeps
the good items and lists the bad ones by position, a token reaches only its profiles, every refusal has its status
(400, 401, 403, 404, 409, 413, 422) and changes nothing, and the person's export shows the new fields."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient

from core import contact_batches
from core.store import Store
from tests.conftest import FakeClock
from tests.web_apps import ACME, ADMIN, TAPAS, bearer, serve

PERSON = "/api/v1/contacts/memory/u-100"
BULK = "/api/v1/contacts/bulk"


@pytest.fixture
async def client(store: Store, clock: FakeClock) -> AsyncIterator[TestClient]:
    async with serve(store.url, clock) as c:
        yield c


async def put(client: TestClient, body: object, token: str = ADMIN, path: str = PERSON, profile: str = "acme"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.put(f"{path}?profile={profile}", data=data, headers=bearer(token))


async def test_put_creates_then_changes_only_the_given_fields(client: TestClient, store: Store, clock) -> None:
    first = {"name": "Ana Lima", "locale": "pt-BR", "timezone": "America/Sao_Paulo", "consent": "granted"}
    resp = await put(client, {**first, "attributes": {"plan": "pro", "seats": 12, "trial": False}})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert (body["profile"], body["channel"], body["user_id"]) == ("acme", "memory", "u-100")
    assert (body["name"], body["locale"], body["timezone"], body["consent"]) == (
        "Ana Lima", "pt", "America/Sao_Paulo", "granted",
    )  # fmt: skip
    assert body["attributes"] == {"plan": "pro", "seats": 12, "trial": False}
    assert body["consent_at"] == body["created_at"] == clock().isoformat()

    clock.advance(hours=1)
    resp = await put(client, {"external_id": "crm-9", "attributes": {"seats": None, "segment": "smb"}})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert (body["name"], body["timezone"], body["external_id"]) == ("Ana Lima", "America/Sao_Paulo", "crm-9")
    assert body["attributes"] == {"plan": "pro", "trial": False, "segment": "smb"}
    assert body["updated_at"] == clock().isoformat() != body["created_at"]
    stored = await contact_batches.read(store, "acme", "memory", "u-100")
    assert stored is not None and stored.external_id == "crm-9"


async def test_a_profile_token_reaches_its_own_profile_only(client: TestClient, store: Store) -> None:
    assert (await put(client, {"name": "A"}, token=ACME)).status == 200
    resp = await put(client, {"name": "B"}, token=TAPAS)
    assert resp.status == 403 and "error" in await resp.json()
    resp = await client.post(f"{BULK}?profile=acme", json={"contacts": []}, headers=bearer(TAPAS))
    assert resp.status == 403
    stored = await contact_batches.read(store, "acme", "memory", "u-100")
    assert stored is not None and stored.name == "A"


@pytest.mark.parametrize(
    ("path", "profile", "token", "body", "status", "says"),
    [
        (PERSON, "acme", "wrong-token", {"name": "x"}, 401, "token"),
        (PERSON, "nowhere", ADMIN, {"name": "x"}, 404, "unknown profile"),
        ("/api/v1/contacts/telegram/u-100", "acme", ADMIN, {"name": "x"}, 404, "no 'telegram' channel"),
        (PERSON, "acme", ADMIN, b'{"name": ', 400, "malformed JSON"),
        (PERSON, "acme", ADMIN, b"\xff\xfe", 400, "not UTF-8"),
        (PERSON, "acme", ADMIN, ["name"], 422, "body"),
        (PERSON, "acme", ADMIN, {"timezone": "Mars/Olympus"}, 422, "timezone: unknown time zone 'Mars/Olympus'"),
        (PERSON, "acme", ADMIN, {"locale": "xx"}, 422, "locale: 'xx'"),
        (PERSON, "acme", ADMIN, {"consent": "maybe"}, 422, "consent: 'maybe'"),
        (PERSON, "acme", ADMIN, {"name": "n" * 257}, 422, "name: at most 256"),
        (PERSON, "acme", ADMIN, {"nickname": "x"}, 422, "nickname: not a contact field"),
        (PERSON, "acme", ADMIN, {"attributes": {"plan": {"tier": 1}}}, 422, "attributes.plan"),
        (PERSON, "acme", ADMIN, {"attributes": {"bad key": 1}}, 422, "attributes.bad key"),
        (PERSON, "acme", ADMIN, {"attributes": {"n": 2**60}}, 422, "attributes.n"),
        (PERSON, "acme", ADMIN, {"attributes": ["plan"]}, 422, "attributes: an object"),
        ("/api/v1/contacts/memory/" + "u" * 129, "acme", ADMIN, {"name": "x"}, 422, "id: at most 128"),
    ],
)
async def test_every_refusal_names_the_problem_and_changes_nothing(
    client: TestClient, store: Store, path: str, profile: str, token: str, body: object, status: int, says: str
) -> None:
    resp = await put(client, body, token=token, path=path, profile=profile)
    assert resp.status == status, await resp.text()
    assert says in (await resp.json())["error"]
    assert await contact_batches.read(store, "acme", "memory", "u-100") is None


async def test_a_missing_profile_is_refused(client: TestClient) -> None:
    resp = await client.put(PERSON, json={"name": "x"}, headers=bearer(ADMIN))
    assert resp.status == 422 and "profile" in (await resp.json())["error"]


async def test_an_oversized_body_is_413(client: TestClient, store: Store) -> None:
    resp = await put(client, {"name": "x", "pad": "y" * (1024 * 1024 + 1)})
    assert resp.status == 413 and "too large" in (await resp.json())["error"]
    assert await contact_batches.read(store, "acme", "memory", "u-100") is None


async def test_an_erased_person_is_not_created_again(client: TestClient, store: Store) -> None:
    assert (await put(client, {"name": "Gone Soon"})).status == 200
    resp = await client.delete(f"{PERSON}?profile=acme", headers=bearer(ADMIN))
    assert resp.status == 200 and (await resp.json())["status"] == "erased"
    resp = await put(client, {"name": "Gone Soon"})
    assert resp.status == 409 and "erased" in (await resp.json())["error"]
    items = [
        {"channel": "memory", "id": "u-102", "consent": "yes"},
        {"channel": "memory", "id": "u-100", "name": "x"},
        {"channel": "memory", "id": "u-101"},
    ]
    resp = await client.post(f"{BULK}?profile=acme", json={"contacts": items}, headers=bearer(ADMIN))
    body = await resp.json()
    assert (body["saved"], body["suppressed"], [r["index"] for r in body["rejected"]]) == (1, [1], [0])
    assert await contact_batches.read(store, "acme", "memory", "u-100") is None


async def test_bulk_keeps_the_good_items_and_lists_the_bad_ones(client: TestClient, store: Store) -> None:
    items: list[object] = [
        {"channel": "memory", "id": "b-0", "timezone": "Europe/Madrid", "attributes": {"plan": "pro"}},
        {"channel": "memory", "id": "b-1", "timezone": "Nowhere/Land"},
        "not an object",
        {"channel": "telegram", "id": "b-3"},
        {"id": "b-4"},
        {"channel": "memory", "id": "b-5", "locale": "es-419", "name": "Bea"},
    ]
    resp = await client.post(f"{BULK}?profile=acme", json={"contacts": items}, headers=bearer(ACME))
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["saved"] == 2 and body["suppressed"] == []
    rejected = {r["index"]: r["error"] for r in body["rejected"]}
    assert sorted(rejected) == [1, 2, 3, 4]
    assert rejected[1].startswith("timezone:") and rejected[3].startswith("channel: profile 'acme' has no")
    assert rejected[4] == "channel: required (text)" and rejected[2].startswith("contact:")
    first = await contact_batches.read(store, "acme", "memory", "b-0")
    last = await contact_batches.read(store, "acme", "memory", "b-5")
    assert first is not None and (first.timezone, first.attributes) == ("Europe/Madrid", {"plan": "pro"})
    assert last is not None and (last.locale, last.name) == ("es", "Bea")


async def test_bulk_refuses_a_request_over_its_maximum(client: TestClient, store: Store) -> None:
    items = [{"channel": "memory", "id": f"m-{i}"} for i in range(contact_batches.MAX_BATCH + 1)]
    resp = await client.post(f"{BULK}?profile=acme", json={"contacts": items}, headers=bearer(ADMIN))
    assert resp.status == 422 and "at most 1000" in (await resp.json())["error"]
    resp = await client.post(f"{BULK}?profile=acme", json={"people": []}, headers=bearer(ADMIN))
    assert resp.status == 422
    resp = await client.post(f"{BULK}?profile=acme", data=b"[", headers=bearer(ADMIN))
    assert resp.status == 400
    assert await contact_batches.read(store, "acme", "memory", "m-0") is None


async def test_the_export_shows_the_contact_fields(client: TestClient) -> None:
    body = {"timezone": "Asia/Tokyo", "external_id": "crm-7", "consent": "denied", "attributes": {"tier": 2}}
    assert (await put(client, body)).status == 200
    resp = await client.get(f"{PERSON}?profile=acme", headers=bearer(ADMIN))
    assert resp.status == 200
    [contact] = (await resp.json())["contacts"]
    assert (contact["timezone"], contact["external_id"], contact["consent"]) == ("Asia/Tokyo", "crm-7", "denied")
    assert contact["attributes"] == {"tier": 2} and contact["consent_at"] is not None
