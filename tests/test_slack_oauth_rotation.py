"""Token rotation at the wire (docs.slack.dev/authentication/using-token-rotation): a workspace whose app rotates its
tokens gets an expiring token and a refresh token; npsbot refreshes it through oauth.v2.access
(grant_type=refresh_token) before it expires, for sends and for requests alike, and again when Slack answers
`token_expired`, then makes the call once more. Refreshed tokens are stored sealed, saved only over the version
they were refreshed from. Both backends."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bots.sandbox.slack_api import FakeSlack
from core.secrets import SecretBox
from core.store import Store
from tests.slack_installs import IN, KEY, OB, TEAM_A, S, deliver, install, oauth_profile, post, reaction, rows, serve
from tests.slack_requests import ADMIN, slack_fake

fake = pytest.fixture(slack_fake)
HOUR, TWELVE_HOURS = 3600, 43200


@pytest.fixture
async def client(tmp_path, fake: FakeSlack, clock, store: Store):
    async with serve(tmp_path, fake, clock, store=store) as c:
        yield c


def refreshes(fake: FakeSlack) -> list[Any]:
    return [c for c in fake.of("oauth.v2.access") if c.params.get("grant_type") == "refresh_token"]


async def close(client: TestClient, conversation: str) -> None:
    body = {"profile": "desk", "channel": "slack", "conversation_id": conversation, "user_id": "UCUST001",
            "workspace": TEAM_A}  # fmt: skip
    resp = await client.post("/api/v1/conversations/close", json=body, headers={"Authorization": f"Bearer {ADMIN}"})
    assert resp.status == 200


async def sealed(client: TestClient) -> dict[str, str]:
    [row] = await rows(client, IN)
    return SecretBox([KEY]).open(row.secrets)


async def test_a_token_about_to_expire_is_refreshed_before_a_send(client: TestClient, fake: FakeSlack) -> None:
    """Installed an hour before expiry (bolt's default margin is two hours): the send refreshes first."""
    await install(client, fake, "code-a", team_id=TEAM_A, expires_in=HOUR)
    first = fake.workspaces.bot_token(TEAM_A)
    first_refresh = (await sealed(client))["bot_refresh_token"]
    await close(client, "D0CUST1")
    await deliver(client)
    [refresh] = refreshes(fake)
    assert refresh.params["refresh_token"] == first_refresh and refresh.token.startswith("Basic ")
    fresh = fake.workspaces.bot_token(TEAM_A)
    [sent] = fake.of("chat.postMessage")
    assert fresh != first and sent.token == f"Bearer {fresh}"
    kept = await sealed(client)
    assert kept["bot_token"] == fresh and kept["bot_refresh_token"] != first_refresh  # Slack spent the old one
    [row] = await rows(client, IN)
    assert row.version == 1 and row.expires_at is not None and fresh not in str(tuple(row))
    await close(client, "D0CUST2")
    await deliver(client)
    assert len(refreshes(fake)) == 1  # twelve hours left now: no more refreshing


async def test_a_token_about_to_expire_is_refreshed_before_a_request_runs(client: TestClient, fake: FakeSlack) -> None:
    await install(client, fake, "code-a", team_id=TEAM_A, expires_in=HOUR)
    first = fake.workspaces.bot_token(TEAM_A)
    assert (await post(client, reaction(TEAM_A, "Ev0ALPHA01", "C0ALPHA")))[0] == 200
    fresh = fake.workspaces.bot_token(TEAM_A)
    assert fresh != first and len(refreshes(fake)) == 1
    assert {c.token for c in fake.of("users.info")} == {f"Bearer {fresh}"}  # the listener's calls use the new one


async def test_a_long_lived_token_is_not_refreshed(client: TestClient, fake: FakeSlack) -> None:
    await install(client, fake, "code-a", team_id=TEAM_A, expires_in=TWELVE_HOURS)
    await close(client, "D0CUST1")
    await deliver(client)
    assert refreshes(fake) == [] and len(fake.of("chat.postMessage")) == 1


async def test_token_expired_refreshes_and_sends_once_more(client: TestClient, fake: FakeSlack) -> None:
    await install(client, fake, "code-a", team_id=TEAM_A, expires_in=TWELVE_HOURS)
    stale = fake.workspaces.bot_token(TEAM_A)
    fake.workspaces.tokens[stale].expired = True  # Slack calls it expired, whatever its expiry said
    fake.calls.clear()
    await close(client, "D0CUST1")
    await deliver(client)
    fresh = fake.workspaces.bot_token(TEAM_A)
    assert [(c.method, c.token) for c in fake.calls if c.method != "oauth.v2.access"] == [
        ("chat.postMessage", f"Bearer {stale}"),
        ("chat.postMessage", f"Bearer {fresh}"),
    ]
    assert len(refreshes(fake)) == 1
    [row] = await rows(client, OB)
    assert row.status == "sent" and (await rows(client, S))[0].state == "asked"


async def test_token_expired_without_a_refresh_token_is_a_dead_letter(client: TestClient, fake: FakeSlack) -> None:
    await install(client, fake, "code-a", team_id=TEAM_A)  # the app does not rotate: no refresh token
    fake.workspaces.tokens[fake.workspaces.bot_token(TEAM_A)].expired = True
    await close(client, "D0CUST1")
    await deliver(client)
    [row] = await rows(client, OB)
    assert (row.status, row.last_error) == ("dead", "Slack: token_expired")
    assert refreshes(fake) == []


async def test_a_refused_refresh_is_a_dead_letter_naming_why(client: TestClient, fake: FakeSlack) -> None:
    await install(client, fake, "code-a", team_id=TEAM_A, expires_in=HOUR)
    fake.workspaces.refresh_tokens.clear()  # e.g. revoked by a workspace admin
    await close(client, "D0CUST1")
    await deliver(client)
    [row] = await rows(client, OB)
    assert (row.status, row.last_error) == ("dead", "Slack: token refresh refused (invalid_refresh_token)")
    assert fake.of("chat.postMessage") == []


async def test_two_processes_refreshing_at_once_end_up_with_one_token(
    tmp_path, fake: FakeSlack, clock, store: Store
) -> None:
    """Both ask Slack with the same refresh token; Slack spends it on the first, refuses the second, and the second
    takes the tokens the first saved instead of failing."""
    async with serve(tmp_path, fake, clock, store=store) as first, serve(tmp_path, fake, clock, store=store) as second:
        await install(first, fake, "code-a", team_id=TEAM_A, expires_in=TWELVE_HOURS)
        channels = [c.runtime.channel("slack", "desk") for c in (first, second)]  # type: ignore[attr-defined]
        served = [await ch.workspaces.for_send(TEAM_A) for ch in channels]
        gate = fake.held["oauth.v2.access"] = asyncio.Event()  # both requests reach Slack before either is answered
        racing = [asyncio.create_task(ch.workspaces.refresh(s)) for ch, s in zip(channels, served, strict=True)]
        while len(refreshes(fake)) < 2:
            await asyncio.sleep(0.01)
        gate.set()
        winner, loser = await asyncio.gather(*racing)
        assert winner.token == loser.token == fake.workspaces.bot_token(TEAM_A) != served[0].token
        assert [c.result is not None for c in refreshes(fake)] == [True, False]  # the second was refused
        [row] = await rows(first, IN)
        assert row.version == 1 and (await sealed(first))["bot_token"] == winner.token


async def test_rotation_off_waits_for_token_expired(tmp_path, fake: FakeSlack, clock, store: Store) -> None:
    profile = oauth_profile(fake, token_rotation=False)
    async with serve(tmp_path, fake, clock, store=store, profile=profile) as client:
        await install(client, fake, "code-a", team_id=TEAM_A, expires_in=HOUR)
        await close(client, "D0CUST1")
        await deliver(client)
        assert refreshes(fake) == []  # an hour left: used as it is
        fake.workspaces.tokens[fake.workspaces.bot_token(TEAM_A)].expired = True
        await close(client, "D0CUST2")
        await deliver(client)
        assert len(refreshes(fake)) == 1 and len(fake.of("chat.postMessage")) == 3
