"""Outbound to Slack: 429 Retry-After, errors that end a delivery, and how each Web API answer is classified."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from adapters.slack.sender import SlackSender
from bots.sandbox.slack_api import FakeSlack
from core.channel import Delivery, send
from core.delivery import DeliveryError, PermanentFailure, RetryLater
from core.store.tables import OutboxRow
from core.types import Say
from tests.slack_requests import (
    CHAN,
    ROOT_TS,
    deliver,
    post_json,
    reaction,
    slack_client,
    slack_fake,
    survey,
)

fake = pytest.fixture(slack_fake)
client = pytest.fixture(slack_client)


def thanks(channel_id: str = CHAN) -> tuple[Delivery, Say]:
    return Delivery(1, "desk", "slack", 1, channel_id, "U1", ROOT_TS, "en", 1), Say("Thanks!", purpose="thanks")


async def test_429_from_slack_is_retried_after_retry_after(client: TestClient, fake: FakeSlack, clock) -> None:
    fake.rate_limited["chat.postMessage"] = 12
    await post_json(client, reaction())
    await deliver(client)
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        row = (await conn.execute(select(OutboxRow.__table__))).one()
    assert row.status == "pending" and (row.next_attempt_at - clock()).total_seconds() == 12
    clock.advance(seconds=12)
    await deliver(client)
    assert len(fake.of("chat.postMessage")) == 2 and (await survey(client)).state == "asked"


async def test_channel_not_found_marks_the_customer(client: TestClient, fake: FakeSlack) -> None:
    fake.errors["chat.postMessage"] = "channel_not_found"
    await post_json(client, reaction())
    await deliver(client)
    row = await survey(client)
    assert (row.state, row.skip_reason) == ("skipped", "unreachable")


@pytest.mark.parametrize(
    ("setup", "expected", "unreachable"),
    [
        ({"rate_limited": {"chat.postMessage": 7}}, RetryLater, False),
        ({"statuses": {"chat.postMessage": 503}}, DeliveryError, False),
        ({"errors": {"chat.postMessage": "internal_error"}}, DeliveryError, False),
        ({"errors": {"chat.postMessage": "channel_not_found"}}, PermanentFailure, True),
        ({"errors": {"chat.postMessage": "is_archived"}}, PermanentFailure, True),
        ({"errors": {"chat.postMessage": "invalid_auth"}}, PermanentFailure, False),
        ({"errors": {"chat.postMessage": "invalid_blocks"}}, PermanentFailure, False),
    ],
)
async def test_sender_classifies_slack_errors(fake: FakeSlack, setup: dict, expected: type, unreachable: bool) -> None:
    for name, value in setup.items():
        getattr(fake, name).update(value)
    sender = SlackSender(AsyncWebClient(token="xoxb-test-token", base_url=fake.base), "desk")
    with pytest.raises(DeliveryError) as raised:
        await send(sender, *thanks())
    assert type(raised.value) is expected
    assert getattr(raised.value, "unreachable", False) is unreachable
    if expected is RetryLater:
        assert raised.value.retry_after == 7
    [call] = fake.of("chat.postMessage")
    assert (call.params["channel"], call.params["thread_ts"], call.params["text"]) == (CHAN, ROOT_TS, "Thanks!")
    assert await send(sender, *thanks()) == f"{CHAN}:1700000000.000001"  # the fault was one-off
