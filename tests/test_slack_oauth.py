""" "Add to Slack" at the wire: the installer's browser, the state slack-bolt's OAuth flow issues and checks (kept in
the database, single use, expiring), the code exchanged at the fake oauth.v2.access, and the installation stored
with its tokens sealed. Every bad redirect gets a clear 4xx and stores nothing. Both backends.

oauth.v2.access answers in the shape of docs.slack.dev/reference/methods/oauth.v2.access (workspace installs) and
api.slack.com/enterprise/apps/reference (org-wide: `team: null`, `is_enterprise_install: true`)."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bots.sandbox.slack_api import FakeSlack
from core.secrets import SecretBox
from core.store import Store
from tests.slack_installs import (
    IN,
    KEY,
    ORG,
    PUBLIC,
    TEAM_A,
    finish_install,
    install,
    oauth_profile,
    rows,
    serve,
    start_install,
)
from tests.slack_installs import S as SURVEYS
from tests.slack_requests import slack_fake

fake = pytest.fixture(slack_fake)
STATES = IN.metadata.tables["install_states"]


@pytest.fixture
async def client(tmp_path, fake: FakeSlack, clock, store: Store):
    async with serve(tmp_path, fake, clock, store=store) as c:
        yield c


async def test_the_install_page_leads_to_slack_with_a_state_kept_in_the_database(client: TestClient) -> None:
    state, authorize = await start_install(client)
    url = urllib.parse.urlsplit(authorize)
    query = urllib.parse.parse_qs(url.query)
    assert (url.scheme, url.netloc, url.path) == ("https", "slack.com", "/oauth/v2/authorize")
    assert query["client_id"] == [FakeSlack().workspaces.client_id]
    assert query["redirect_uri"] == [f"{PUBLIC}/slack/desk/oauth_redirect"]  # from server.public_url
    assert "chat:write" in query["scope"][0].split(",") and "reactions:read" in query["scope"][0].split(",")
    [kept] = await rows(client, STATES)
    assert kept.profile == "desk" and kept.state_hash != state  # only its hash is stored
    assert len(state) >= 40  # 32 random bytes


async def test_install_stores_the_workspace_with_its_tokens_sealed(client: TestClient, fake: FakeSlack) -> None:
    grant = {"team_id": TEAM_A, "team_name": "Alpha", "installer": "U0ALPHAADM", "user_scope": "search:read"}
    resp = await install(client, fake, "code-alpha", **grant)
    assert f"slack://app?team={TEAM_A}" in await resp.text()  # bolt's success page opens Slack at the workspace
    [exchange] = fake.of("oauth.v2.access")
    assert exchange.params["code"] == "code-alpha"
    assert exchange.params["redirect_uri"] == f"{PUBLIC}/slack/desk/oauth_redirect"
    assert exchange.token.startswith("Basic ")  # the app's credentials, never a workspace token
    bot_token = fake.workspaces.bot_token(TEAM_A)
    [auth] = fake.of("auth.test")
    assert auth.token == f"Bearer {bot_token}"  # bolt learns the bot id with the new token

    [row] = await rows(client, IN)
    assert (row.channel, row.profile, row.workspace, row.organization) == ("slack", "desk", TEAM_A, None)
    assert row.installed_by == "U0ALPHAADM" and row.removed_at is None and row.expires_at is None
    assert row.details["bot_scopes"] == fake.workspaces.tokens[bot_token].grant.scope.split(",")
    assert (row.details["team_name"], row.details["bot_id"], row.details["user_scopes"]) == (
        "Alpha",
        "B0BOT00001",
        ["search:read"],
    )
    user_token = next(t for t, i in fake.workspaces.tokens.items() if i.kind == "user")
    stored = " ".join(str(value) for value in row)  # every column, details included
    assert bot_token not in stored and user_token not in stored and "xox" not in stored
    sealed = SecretBox([KEY]).open(row.secrets)
    assert (sealed["bot_token"], sealed["user_token"]) == (bot_token, user_token)
    assert await rows(client, STATES) == []  # the state was used up


async def test_an_org_wide_install_is_keyed_by_the_org(client: TestClient, fake: FakeSlack) -> None:
    await install(
        client, fake, "code-org", team_id=None, team_name=None, enterprise_id=ORG, enterprise_name="Grid",
        is_enterprise_install=True, installer="W0ORGADMIN",
    )  # fmt: skip
    [row] = await rows(client, IN)
    assert (row.workspace, row.organization, row.details["is_enterprise_install"]) == (ORG, ORG, True)
    assert row.details["team_id"] is None and row.details["enterprise_name"] == "Grid"


async def test_installing_again_replaces_the_workspace_tokens(client: TestClient, fake: FakeSlack) -> None:
    await install(client, fake, "code-1", team_id=TEAM_A)
    first = fake.workspaces.bot_token(TEAM_A)
    await install(client, fake, "code-2", team_id=TEAM_A, scope="chat:write,users:read")
    [row] = await rows(client, IN)
    assert SecretBox([KEY]).open(row.secrets)["bot_token"] == fake.workspaces.bot_token(TEAM_A) != first
    assert row.details["bot_scopes"] == ["chat:write", "users:read"] and row.version == 1


async def test_team_preselection_is_passed_on_only_as_a_team_id(client: TestClient) -> None:
    _, authorize = await start_install(client, f"?team={TEAM_A}")
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(authorize).query)["team"] == [TEAM_A]
    bad = await client.get("/slack/desk/install?team=T1%26redirect_uri%3Dhttps://evil.example")
    assert bad.status == 400 and "team" in (await bad.json())["error"]


async def nothing_installed(client: TestClient) -> None:
    assert await rows(client, IN) == [] and await rows(client, SURVEYS) == []


async def test_a_forged_state_is_refused(client: TestClient, fake: FakeSlack) -> None:
    fake.workspaces.grant("code-x", team_id=TEAM_A)
    forged = "A" * 43
    resp = await finish_install(client, forged, code="code-x")  # cookie and parameter agree, but we never issued it
    assert resp.status == 401 and "invalid_state" in await resp.text()
    assert fake.of("oauth.v2.access") == []  # the code is never spent
    await nothing_installed(client)


async def test_a_replayed_state_is_refused(client: TestClient, fake: FakeSlack) -> None:
    fake.workspaces.grant("code-1", team_id=TEAM_A)
    fake.workspaces.grant("code-2", team_id="T0OTHER001")
    state, _ = await start_install(client)
    assert (await finish_install(client, state, code="code-1")).status == 200
    replay = await finish_install(client, state, code="code-2")
    assert replay.status == 401 and "invalid_state" in await replay.text()
    assert [r.workspace for r in await rows(client, IN)] == [TEAM_A]  # nothing more stored
    assert [c.params["code"] for c in fake.of("oauth.v2.access")] == ["code-1"]


async def test_an_expired_state_is_refused(client: TestClient, fake: FakeSlack, clock: Any) -> None:
    fake.workspaces.grant("code-1", team_id=TEAM_A)
    state, _ = await start_install(client)
    clock.advance(seconds=601)  # oauth.state_expiration_seconds: 600
    resp = await finish_install(client, state, code="code-1")
    assert resp.status == 401 and "invalid_state" in await resp.text()
    await nothing_installed(client)


async def test_a_state_from_another_browser_is_refused(client: TestClient, fake: FakeSlack) -> None:
    """The state parameter is real, but the browser finishing the install is not the one that started it."""
    fake.workspaces.grant("code-1", team_id=TEAM_A)
    state, _ = await start_install(client)
    other, _ = await start_install(client)
    for cookie in (other, ""):
        resp = await finish_install(client, state, cookie=cookie, code="code-1")
        assert resp.status == 400 and "invalid_browser" in await resp.text()
    await nothing_installed(client)


async def test_a_missing_code_is_refused(client: TestClient, fake: FakeSlack) -> None:
    state, _ = await start_install(client)
    resp = await finish_install(client, state)
    assert resp.status == 401 and "missing_code" in await resp.text()
    await nothing_installed(client)


async def test_a_code_slack_refuses_is_refused(client: TestClient, fake: FakeSlack) -> None:
    state, _ = await start_install(client)
    resp = await finish_install(client, state, code="never-granted")
    assert resp.status == 401 and "invalid_code" in await resp.text()
    await nothing_installed(client)


async def test_an_error_from_slack_is_a_failed_install(client: TestClient, fake: FakeSlack) -> None:
    """The installer pressed Cancel: Slack redirects with error=access_denied and no code."""
    state, _ = await start_install(client)
    resp = await finish_install(client, state, error="access_denied")
    assert resp.status == 400 and "access_denied" in await resp.text()
    assert fake.of("oauth.v2.access") == []
    await nothing_installed(client)


async def test_redirect_parameters_that_are_not_slacks_are_refused_unread(client: TestClient) -> None:
    state, _ = await start_install(client)
    for query in ({"code": "x" * 300}, {"code": "a b"}, {"code": "<script>"}):
        resp = await finish_install(client, state, **query)
        assert resp.status == 400
    resp = await finish_install(client, "bad state!", code="c")
    assert resp.status == 400
    assert len(await rows(client, STATES)) == 1  # the real state was never consumed by any of these
    await nothing_installed(client)


async def test_any_process_can_finish_an_install_another_started(
    tmp_path, fake: FakeSlack, clock, store: Store
) -> None:
    fake.workspaces.grant("code-1", team_id=TEAM_A)
    async with serve(tmp_path, fake, clock, store=store) as first:
        state, _ = await start_install(first)
    async with serve(tmp_path, fake, clock, store=store) as second:
        assert (await finish_install(second, state, code="code-1")).status == 200
        assert [r.workspace for r in await rows(second, IN)] == [TEAM_A]


async def test_an_explicit_redirect_uri_wins_over_the_public_url(tmp_path, fake: FakeSlack, clock) -> None:
    profile = oauth_profile(fake, redirect_uri="https://other.example.com/slack/desk/oauth_redirect")
    async with serve(tmp_path, fake, clock, profile=profile) as client:
        _, authorize = await start_install(client)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(authorize).query)
    assert query["redirect_uri"] == ["https://other.example.com/slack/desk/oauth_redirect"]
