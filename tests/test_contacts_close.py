"""A closed conversation keeps the contact current, on SQLite and PostgreSQL: where a campaign reaches the customer
(conversation and workspace), and the time zone the close hints at — taken only while the contact has none, so a
zone the operator set wins; a hint that names no zone is refused by the API (422) and never stored."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient

from bots.sandbox.slack_api import FakeSlack
from core import contact_batches
from core.store import Store
from core.types import Address, ConversationClosed
from tests.conftest import FakeClock
from tests.slack_requests import CUSTOMER, deliver, post_json, reaction, slack_client, slack_fake
from tests.web_apps import ACME, ADMIN, bearer, runtime, serve

CLOSE = "/api/v1/conversations/close"
fake = pytest.fixture(slack_fake)
slack = pytest.fixture(slack_client)


@pytest.fixture
async def client(store: Store, clock: FakeClock) -> AsyncIterator[TestClient]:
    async with serve(store.url, clock) as c:
        yield c


def close_body(user: str, conversation: str, **extra: object) -> dict[str, object]:
    return {"profile": "acme", "channel": "memory", "conversation_id": conversation, "user_id": user, **extra}


async def test_a_close_records_the_zone_but_never_a_shared_conversation_as_the_reach(
    client: TestClient, store: Store
) -> None:
    """The closed conversation may be a shared support channel: a campaign must not ask there, so the contact's
    reach stays what the operator set (or the user id)."""
    resp = await client.post(
        CLOSE, json=close_body("u-1", "chat-1", timezone="America/Mexico_City"), headers=bearer(ACME)
    )
    assert resp.status == 200, await resp.text()
    contact = await contact_batches.read(store, "acme", "memory", "u-1")
    assert contact is not None
    assert (contact.conversation_id, contact.timezone) == (None, "America/Mexico_City")
    assert contact.updated_at is not None and contact.last_surveyed_at is not None

    resp = await client.post(CLOSE, json=close_body("u-1", "chat-2", timezone="Asia/Kolkata"), headers=bearer(ACME))
    assert resp.status == 200, await resp.text()
    contact = await contact_batches.read(store, "acme", "memory", "u-1")
    assert contact is not None and (contact.conversation_id, contact.timezone) == (None, "America/Mexico_City")


async def test_an_operator_set_zone_wins_over_the_close(client: TestClient, store: Store) -> None:
    resp = await client.put(
        "/api/v1/contacts/memory/u-2?profile=acme", json={"timezone": "Europe/Madrid"}, headers=bearer(ADMIN)
    )
    assert resp.status == 200
    resp = await client.post(CLOSE, json=close_body("u-2", "chat-3", timezone="Asia/Tokyo"), headers=bearer(ACME))
    assert resp.status == 200, await resp.text()
    contact = await contact_batches.read(store, "acme", "memory", "u-2")
    assert contact is not None and (contact.timezone, contact.conversation_id) == ("Europe/Madrid", None)


async def test_a_close_without_a_zone_leaves_the_contacts_alone(client: TestClient, store: Store) -> None:
    await client.put(
        "/api/v1/contacts/memory/u-3?profile=acme", json={"timezone": "Europe/Rome"}, headers=bearer(ADMIN)
    )
    resp = await client.post(CLOSE, json=close_body("u-3", "chat-4"), headers=bearer(ACME))
    assert resp.status == 200
    contact = await contact_batches.read(store, "acme", "memory", "u-3")
    assert contact is not None and contact.timezone == "Europe/Rome"


async def test_a_close_naming_no_zone_is_refused(client: TestClient, store: Store) -> None:
    resp = await client.post(CLOSE, json=close_body("u-4", "chat-5", timezone="Mars/Base"), headers=bearer(ACME))
    assert resp.status == 422
    assert "timezone" in (body := (await resp.json())["error"]) and "Mars/Base" in body
    assert await contact_batches.read(store, "acme", "memory", "u-4") is None


async def test_a_platform_hint_that_is_no_zone_is_not_stored(client: TestClient, store: Store) -> None:
    """A hint from an adapter (Slack's users.info tz) is read as a hint: one naming no zone is dropped."""
    service = runtime(client).service
    await service.handle(ConversationClosed(Address("memory", "acme", "chat-6", "u-5"), timezone="Not/AZone"))
    await service.handle(ConversationClosed(Address("memory", "acme", "chat-7", "u-6"), timezone="Africa/Lagos"))
    quiet = await contact_batches.read(store, "acme", "memory", "u-5")
    hinted = await contact_batches.read(store, "acme", "memory", "u-6")
    assert quiet is not None and quiet.timezone is None and quiet.conversation_id is None
    assert hinted is not None and hinted.timezone == "Africa/Lagos"


async def test_slack_hands_over_the_time_zone_users_info_already_gave(slack: TestClient, fake: FakeSlack) -> None:
    fake.timezones[CUSTOMER] = "America/Los_Angeles"
    assert (await post_json(slack, reaction()))[0] == 200
    await deliver(slack)
    contact = await contact_batches.read(slack.runtime.store, "desk", "slack", CUSTOMER)  # type: ignore[attr-defined]
    assert contact is not None and (contact.timezone, contact.conversation_id) == ("America/Los_Angeles", None)
    assert [c.params["user"] for c in fake.of("users.info")].count(CUSTOMER) == 1  # no call of its own
