"""Several workspaces served by one profile's Slack app: each request is authorized by the installation of the team
it comes from, and each send carries the token of its survey's workspace (the fake records every call's
Authorization header); an org-wide install serves every workspace of its org; a signed event from a team that never
installed the app gets 403 and stores nothing; alerts name their workspace; reports break down by workspace.
Both backends. Event envelopes: docs.slack.dev/apis/events-api (team_id, authorizations, is_enterprise_install)."""

from __future__ import annotations

import itertools
import json
import urllib.parse
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bots.sandbox.slack_api import FakeSlack
from core.store import Store, journal
from tests.slack_installs import (
    CUSTOMER,
    OB,
    ORG,
    TEAM_A,
    TEAM_B,
    S,
    deliver,
    event,
    install,
    oauth_profile,
    post,
    reaction,
    rows,
    serve,
)
from tests.slack_requests import ADMIN, sign, slack_fake

fake = pytest.fixture(slack_fake)
TAPS = itertools.count(1)  # each tap its own action_ts, as Slack's are


@pytest.fixture
async def client(tmp_path, fake: FakeSlack, clock, store: Store):
    """`desk`, installed in workspaces A and B."""
    async with serve(tmp_path, fake, clock, store=store) as c:
        await install(c, fake, "code-a", team_id=TEAM_A, team_name="Alpha")
        await install(c, fake, "code-b", team_id=TEAM_B, team_name="Bravo")
        fake.calls.clear()
        yield c


def calls_to(fake: FakeSlack, method: str, channel: str) -> list[Any]:
    return [c for c in fake.of(method) if c.params.get("channel") == channel]


async def test_each_workspace_is_served_with_its_own_token(client: TestClient, fake: FakeSlack) -> None:
    assert (await post(client, reaction(TEAM_A, "Ev0ALPHA01", "C0ALPHA")))[0] == 200
    assert (await post(client, reaction(TEAM_B, "Ev0BRAVO01", "C0BRAVO")))[0] == 200
    await deliver(client)
    token_a, token_b = fake.workspaces.bot_token(TEAM_A), fake.workspaces.bot_token(TEAM_B)
    [asked_a], [asked_b] = calls_to(fake, "chat.postMessage", "C0ALPHA"), calls_to(fake, "chat.postMessage", "C0BRAVO")
    assert (asked_a.token, asked_b.token) == (f"Bearer {token_a}", f"Bearer {token_b}")
    # The listener's own calls (is the message a thread's first? who is the customer?) use the request's workspace.
    replies = {c.params["channel"]: c.token for c in fake.of("conversations.replies")}
    assert replies == {"C0ALPHA": f"Bearer {token_a}", "C0BRAVO": f"Bearer {token_b}"}
    assert {c.token for c in fake.of("users.info")} == {f"Bearer {token_a}", f"Bearer {token_b}"}
    assert not [c for c in fake.calls if c.method == "auth.test"]  # the installation says who the bot is
    surveys = {r.conversation_id: r.workspace for r in await rows(client, S)}
    assert surveys == {"C0ALPHA": TEAM_A, "C0BRAVO": TEAM_B}
    targets = {r.target["conversation_id"]: r.target["workspace"] for r in await rows(client, OB)}
    assert targets == {"C0ALPHA": TEAM_A, "C0BRAVO": TEAM_B}


async def test_a_tap_is_answered_with_the_token_of_the_workspace_it_came_from(
    client: TestClient, fake: FakeSlack
) -> None:
    await post(client, reaction(TEAM_B, "Ev0BRAVO01", "C0BRAVO"))
    await deliver(client)
    [survey] = await rows(client, S)
    tapped_elsewhere = tap(TEAM_A, "C0BRAVO", f"{survey.id}:9", "nps_score_9")
    assert (await post_form(client, tapped_elsewhere))[0] == 200
    assert (await rows(client, S))[0].state == "asked"  # a survey of workspace B is not A's to answer
    assert (await post_form(client, tap(TEAM_B, "C0BRAVO", f"{survey.id}:9", "nps_score_9")))[0] == 200
    await deliver(client)
    assert (await rows(client, S))[0].score == 9
    [update] = fake.of("chat.update")
    assert update.token == f"Bearer {fake.workspaces.bot_token(TEAM_B)}"


async def test_an_unknown_teams_event_is_refused_and_nothing_is_stored(client: TestClient, fake: FakeSlack) -> None:
    status, text = await post(client, reaction("T0NOBODY01", "Ev0NOBODY1", "C0ALPHA"))
    assert status == 403 and "T0NOBODY01 has not installed the app" in json.loads(text)["error"]
    status, _ = await post_form(client, tap("T0NOBODY01", "C0ALPHA", "1:9", "nps_score_9"))
    assert status == 403
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        assert await journal.entries(conn, "slack") == []
    assert await rows(client, S) == [] and await rows(client, OB) == []
    assert fake.calls == []  # nobody was asked anything on its behalf


async def test_an_org_wide_install_serves_the_workspaces_of_its_org(client: TestClient, fake: FakeSlack) -> None:
    await install(client, fake, "code-org", team_id=None, team_name=None, enterprise_id=ORG, is_enterprise_install=True)
    org_token = fake.workspaces.bot_token(ORG)
    authorizations = [{"enterprise_id": ORG, "team_id": "T0GRIDWS01", "user_id": "W0BOT", "is_bot": True,
                       "is_enterprise_install": True}]  # fmt: skip
    flagged = reaction("T0GRIDWS01", "Ev0GRID001", "C0GRID1", enterprise_id=ORG, authorizations=authorizations)
    # A workspace of the org with no install of its own, its event not flagged org-wide: the org's install serves.
    plain = reaction("T0GRIDWS02", "Ev0GRID002", "C0GRID2", enterprise_id=ORG)
    assert (await post(client, flagged))[0] == 200 and (await post(client, plain))[0] == 200
    await deliver(client)
    assert {r.conversation_id: r.workspace for r in await rows(client, S)} == {"C0GRID1": ORG, "C0GRID2": ORG}
    assert {c.token for c in fake.of("chat.postMessage")} == {f"Bearer {org_token}"}


async def test_alerts_go_to_the_channel_of_the_workspace_they_name(client: TestClient, fake: FakeSlack) -> None:
    """desk's alerts go to T0ALPHA001/CLEADS: a detractor in B is announced in A's channel, with A's token, and only
    A's CLEADS may claim it."""
    await post(client, reaction(TEAM_B, "Ev0BRAVO01", "C0BRAVO"))
    await deliver(client)
    [survey] = await rows(client, S)
    await post_form(client, tap(TEAM_B, "C0BRAVO", f"{survey.id}:2", "nps_score_2"))
    comment = event(TEAM_B, {"type": "message", "channel": "C0BRAVO", "user": CUSTOMER, "text": "Too slow",
                             "ts": "1700000200.000001", "thread_ts": "1699999999.000100"}, "Ev0BRAVO02")  # fmt: skip
    await post(client, comment)
    await deliver(client)
    [alert] = calls_to(fake, "chat.postMessage", "CLEADS")
    assert alert.token == f"Bearer {fake.workspaces.bot_token(TEAM_A)}" and "Detractor (2/10)" in alert.params["text"]
    fake.calls.clear()
    await post_form(client, tap(TEAM_B, "CLEADS", str(survey.id), "nps_claim", user="U0BRAVOAGT"))
    [note] = fake.of("chat.postEphemeral")  # B has a CLEADS too, but the alert is not there
    assert note.params["text"] == "Only the support team where this alert was posted can do that."
    await post_form(client, tap(TEAM_A, "CLEADS", str(survey.id), "nps_claim", user="U0ALPHAAGT"))
    assert (await rows(client, S))[0].claimed_by == "u0alphaagt"


async def test_the_api_closes_a_conversation_in_a_named_workspace(client: TestClient, fake: FakeSlack) -> None:
    body = {"profile": "desk", "channel": "slack", "conversation_id": "D0CUSTB", "user_id": CUSTOMER,
            "workspace": TEAM_B}  # fmt: skip
    resp = await client.post("/api/v1/conversations/close", json=body, headers={"Authorization": f"Bearer {ADMIN}"})
    assert resp.status == 200
    unnamed = {k: v for k, v in body.items() if k != "workspace"} | {"conversation_id": "D0CUSTX"}
    resp = await client.post("/api/v1/conversations/close", json=unnamed, headers={"Authorization": f"Bearer {ADMIN}"})
    assert resp.status == 200
    await deliver(client)
    [sent] = fake.of("chat.postMessage")
    assert (sent.params["channel"], sent.token) == ("D0CUSTB", f"Bearer {fake.workspaces.bot_token(TEAM_B)}")
    dead = {r.target["conversation_id"]: r.last_error for r in await rows(client, OB) if r.status == "dead"}
    assert dead == {"D0CUSTX": "no Slack workspace named (this app serves the workspaces that install it)"}


async def test_reports_break_down_by_workspace(client: TestClient, fake: FakeSlack) -> None:
    for team, channel, score in ((TEAM_A, "C0ALPHA", 10), (TEAM_B, "C0BRAVO", 3), (TEAM_B, "C0BRAVO2", 4)):
        await post(client, reaction(team, f"Ev0{channel}", channel))
        await deliver(client)
        [survey] = [r for r in await rows(client, S) if r.conversation_id == channel]
        await post_form(client, tap(team, channel, f"{survey.id}:{score}", f"nps_score_{score}", ts=channel))
    admin = {"Authorization": f"Bearer {ADMIN}"}
    resp = await client.get("/api/v1/nps?by=workspace", headers=admin)
    report = await resp.json()
    assert resp.status == 200 and report["by"] == "workspace"
    assert {r["key"]: (r["responses"], r["nps"]) for r in report["breakdown"]} == {
        TEAM_A: (1, 100.0),
        TEAM_B: (2, -100.0),
    }
    only_b = await (await client.get(f"/api/v1/nps?workspace={TEAM_B}", headers=admin)).json()
    assert only_b["summary"]["responses"] == 2
    dashboard = await (await client.get(f"/report/data.json?workspace={TEAM_A}", headers=admin)).json()
    assert dashboard["options"]["workspace"] == [TEAM_B, TEAM_A]  # most surveys first
    assert [r["key"] for r in dashboard["breakdowns"]["workspace"]] == [TEAM_A]


async def test_the_configured_token_serves_its_workspace_beside_the_installed_ones(
    tmp_path, fake: FakeSlack, clock, store: Store
) -> None:
    """bot_token and oauth together: the token's own workspace (auth.test says T0001) keeps working, including
    surveys queued without a workspace, and every installed workspace gets its own."""
    profile = oauth_profile(fake)
    profile["channels"]["slack"]["bot_token"] = "xoxb-test-token"
    profile["alerts"] = [{"channel": "slack", "destination": "CLEADS"}]  # the configured token's workspace
    async with serve(tmp_path, fake, clock, store=store, profile=profile) as client:
        await install(client, fake, "code-a", team_id=TEAM_A)
        assert (await post(client, reaction("T0001", "Ev0DEFAULT", "C0DEFAULT")))[0] == 200
        assert (await post(client, reaction(TEAM_A, "Ev0ALPHA01", "C0ALPHA")))[0] == 200
        assert (await post(client, reaction("T0NOBODY01", "Ev0NOBODY1", "C0ELSE")))[0] == 403
        await deliver(client)
    sent = {c.params["channel"]: c.token for c in fake.of("chat.postMessage")}
    assert sent == {"C0DEFAULT": "Bearer xoxb-test-token", "C0ALPHA": f"Bearer {fake.workspaces.bot_token(TEAM_A)}"}


# ---- interactivity as Slack posts it (form-encoded `payload`) --------------------------------------------------


def tap(team: str, channel: str, value: str, action_id: str, *, user: str = CUSTOMER, ts: str = "1") -> dict:
    """block_actions (docs.slack.dev/reference/interaction-payloads/block_actions-payload), from `team`."""
    payload = {
        "type": "block_actions",
        "team": {"id": team, "domain": "example"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
        "api_app_id": "A0NPSBOT01",
        "token": "9s8d9as89d8as9d8as989",
        "container": {"type": "message", "message_ts": "1700000000.000001", "channel_id": channel},
        "trigger_id": f"12321423423.333649436676.{team}{ts}",
        "channel": {"id": channel, "name": "support"},
        "message": {"type": "message", "ts": "1700000000.000001", "thread_ts": "1699999999.000100", "blocks": []},
        "response_url": "https://hooks.slack.com/actions/A0NPSBOT01/1/x",
        "actions": [{"action_id": action_id, "block_id": "b1", "value": value, "type": "button",
                     "action_ts": f"1700000300.{next(TAPS):06d}"}],
    }  # fmt: skip
    return {"payload": json.dumps(payload)}


async def post_form(client: TestClient, form: dict[str, str]) -> tuple[int, str]:
    body = urllib.parse.urlencode(form)
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
    resp = await client.post("/slack/desk/events", data=body, headers=headers)
    text = await resp.text()
    await client.runtime.channel("slack", "desk").idle()  # type: ignore[attr-defined]
    return resp.status, text
