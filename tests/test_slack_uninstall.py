"""A workspace leaves: app_uninstalled (api.slack.com/events/app_uninstalled) or tokens_revoked with its bot token
(api.slack.com/events/tokens_revoked) removes the installation (its tokens dropped, the row kept as removed), its
open surveys are skipped as `uninstalled` and its queued messages become dead letters saying so; new surveys there
are skipped and counted in the report; the other workspaces go on. Both backends."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bots.sandbox.slack_api import FakeSlack
from core.secrets import SecretBox
from core.store import Store, journal
from core.store.tables import ContactRow
from tests.slack_installs import (
    IN,
    KEY,
    OB,
    TEAM_A,
    TEAM_B,
    S,
    deliver,
    event,
    install,
    post,
    reaction,
    rows,
    serve,
)
from tests.slack_requests import ADMIN, post_json, slack_fake, surveys
from tests.slack_requests import reaction as desk_reaction
from tests.slack_requests import serve as serve_desk

fake = pytest.fixture(slack_fake)
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
async def client(tmp_path, fake: FakeSlack, clock, store: Store):
    """`desk` in workspaces A and B; A's installer also granted user scopes."""
    async with serve(tmp_path, fake, clock, store=store) as c:
        await install(c, fake, "code-a", team_id=TEAM_A, installer="U0ALPHAADM", user_scope="search:read")
        await install(c, fake, "code-b", team_id=TEAM_B)
        yield c


def uninstalled(team: str, event_id: str = "Ev0UNINST01") -> dict:
    return event(team, {"type": "app_uninstalled"}, event_id)


def revoked(team: str, oauth: list[str], bot: list[str], event_id: str = "Ev0REVOKE01") -> dict:
    return event(team, {"type": "tokens_revoked", "tokens": {"oauth": oauth, "bot": bot}}, event_id)


async def close(client: TestClient, conversation: str, workspace: str) -> dict:
    body = {"profile": "desk", "channel": "slack", "conversation_id": conversation, "user_id": "UCUST001",
            "workspace": workspace}  # fmt: skip
    resp = await client.post("/api/v1/conversations/close", json=body, headers=ADMIN_HEADERS)
    assert resp.status == 200
    return await resp.json()


async def installation(client: TestClient, workspace: str) -> Any:
    [row] = [r for r in await rows(client, IN) if r.workspace == workspace]
    return row


@pytest.mark.parametrize(
    ("leaving", "reason"),
    [
        (uninstalled(TEAM_A), "workspace uninstalled"),
        (revoked(TEAM_A, [], ["U0BOTUSER1"]), "workspace uninstalled: bot token revoked"),
    ],
    ids=["app_uninstalled", "tokens_revoked"],
)
async def test_a_workspace_leaving_removes_its_installation_and_what_waits_for_it(
    client: TestClient, fake: FakeSlack, leaving: dict, reason: str
) -> None:
    asked = await close(client, "D0ASKED", TEAM_A)
    await deliver(client)  # asked: its question went out
    queued = await close(client, "D0QUEUED", TEAM_A)  # its question still in the queue
    other = await close(client, "D0OTHER", TEAM_B)
    fake.workspaces.revoke(TEAM_A)
    fake.calls.clear()
    status, _ = await post(client, leaving)
    assert status == 200
    assert fake.calls == []  # nothing asked of Slack for a workspace that has gone

    row = await installation(client, TEAM_A)
    assert (row.secrets, row.expires_at, row.removed_reason) == (None, None, reason)  # its tokens are gone
    assert row.removed_at is not None and row.details["team_id"] == TEAM_A  # who it was stays
    assert (await installation(client, TEAM_B)).secrets is not None
    surveys = {r.id: (r.state, r.skip_reason) for r in await rows(client, S)}
    assert surveys[asked["survey"]["id"]] == surveys[queued["survey"]["id"]] == ("skipped", "uninstalled")
    assert surveys[other["survey"]["id"]] == ("asked", None)
    outbox = {r.target["conversation_id"]: (r.status, r.last_error) for r in await rows(client, OB)}
    assert outbox["D0QUEUED"] == ("dead", reason)
    assert outbox["D0ASKED"] == ("sent", None) and outbox["D0OTHER"] == ("pending", None)

    await deliver(client)  # B's message still goes out, with B's token
    [sent] = fake.of("chat.postMessage")
    assert (sent.params["channel"], sent.token) == ("D0OTHER", f"Bearer {fake.workspaces.bot_token(TEAM_B)}")
    dead = await (await client.get("/api/v1/dead-letters", headers=ADMIN_HEADERS)).json()
    assert [(d["kind"], d["last_error"]) for d in dead["items"]] == [("ask_score", reason)]


async def test_new_surveys_in_a_removed_workspace_are_skipped_and_counted(client: TestClient, fake: FakeSlack) -> None:
    assert (await post(client, uninstalled(TEAM_A)))[0] == 200
    later = await close(client, "D0LATER", TEAM_A)
    assert (later["survey"]["state"], later["survey"]["skip_reason"]) == ("skipped", "uninstalled")
    await deliver(client)
    assert fake.of("chat.postMessage") == [] and await rows(client, OB) == []
    report = await (await client.get("/api/v1/nps", headers=ADMIN_HEADERS)).json()
    assert report["skipped"] == {"uninstalled": 1}
    # Its events are no longer served (the app is gone there), and say so.
    status, text = await post(client, reaction(TEAM_A, "Ev0AFTER01", "C0ALPHA"))
    assert status == 403 and "has not installed the app" in text


async def test_an_alert_for_a_removed_workspace_is_a_dead_letter_naming_it(client: TestClient, fake: FakeSlack) -> None:
    """desk's alerts go to T0ALPHA001/CLEADS; once A has left, a detractor in B can't be announced there."""
    await post(client, uninstalled(TEAM_A))
    opened = await close(client, "D0CUSTB", TEAM_B)
    await deliver(client)
    sid = opened["survey"]["id"]
    await post(client, event(TEAM_B, {"type": "message", "channel": "D0CUSTB", "user": "UCUST001", "text": "2",
                                      "ts": "1700000200.000001", "channel_type": "im"}, "Ev0SCORE01"))  # fmt: skip
    await post(client, event(TEAM_B, {"type": "message", "channel": "D0CUSTB", "user": "UCUST001",
                                      "text": "Nobody answered", "ts": "1700000201.000001", "channel_type": "im"},
                             "Ev0COMMENT1"))  # fmt: skip
    await deliver(client)
    assert [r.score for r in await rows(client, S) if r.id == sid] == [2]
    [alert] = [r for r in await rows(client, OB) if r.kind == "detractor_alert"]
    assert (alert.target["conversation_id"], alert.status, alert.last_error) == (
        f"{TEAM_A}/CLEADS",
        "dead",
        "workspace uninstalled",
    )
    assert not [c for c in fake.of("chat.postMessage") if c.params["channel"] == "CLEADS"]


async def test_an_installers_revoked_user_token_leaves_the_installation(client: TestClient, fake: FakeSlack) -> None:
    before = await installation(client, TEAM_A)
    assert (await post(client, revoked(TEAM_A, ["U0ALPHAADM"], [])))[0] == 200
    after = await installation(client, TEAM_A)
    assert after.removed_at is None and after.secrets != before.secrets and after.version == before.version + 1
    kept = SecretBox([KEY]).open(after.secrets)
    assert "user_token" not in kept and kept["bot_token"] == fake.workspaces.bot_token(TEAM_A)
    assert "user_token" in SecretBox([KEY]).open(before.secrets)
    await close(client, "D0CUST", TEAM_A)
    await deliver(client)
    assert fake.of("chat.postMessage")[0].token == f"Bearer {fake.workspaces.bot_token(TEAM_A)}"


async def test_the_same_uninstall_twice_changes_nothing_more(client: TestClient) -> None:
    assert (await post(client, uninstalled(TEAM_A, "Ev0UNINST01")))[0] == 200
    first = await installation(client, TEAM_A)
    retry = uninstalled(TEAM_A, "Ev0UNINST01")
    assert (await post(client, retry))[0] == 200
    assert (await post(client, revoked(TEAM_A, [], ["U0BOTUSER1"])))[0] == 200  # may come after, says Slack
    again = await installation(client, TEAM_A)
    assert (again.removed_at, again.removed_reason, again.version) == (
        first.removed_at,
        "workspace uninstalled",
        first.version,
    )


async def test_installing_again_brings_the_workspace_back(client: TestClient, fake: FakeSlack) -> None:
    await post(client, uninstalled(TEAM_A))
    await install(client, fake, "code-again", team_id=TEAM_A)
    row = await installation(client, TEAM_A)
    assert row.removed_at is None and row.removed_reason is None and row.secrets is not None
    assert (await post(client, reaction(TEAM_A, "Ev0BACK001", "C0ALPHA")))[0] == 200
    await deliver(client)
    [sent] = fake.of("chat.postMessage")
    assert sent.token == f"Bearer {fake.workspaces.bot_token(TEAM_A)}"
    assert (await rows(client, S))[-1].state == "asked"


async def test_a_process_that_has_not_seen_the_removal_yet_gives_up_at_slacks_answer(
    tmp_path, fake: FakeSlack, clock, store: Store
) -> None:
    """The web process removes A; the worker still holds A's installation in its short cache and sends an alert
    there: Slack answers token_revoked, the worker reads the removal and gives up saying so, and no customer is
    marked unreachable."""
    async with serve(tmp_path, fake, clock, store=store) as web, serve(tmp_path, fake, clock, store=store) as worker:
        await install(web, fake, "code-a", team_id=TEAM_A)
        await install(web, fake, "code-b", team_id=TEAM_B)
        slack = worker.runtime.channel("slack", "desk")  # type: ignore[attr-defined]
        await slack.workspaces.for_send(TEAM_A)  # read, and kept for a few seconds
        fake.workspaces.revoke(TEAM_A)
        assert (await post(web, uninstalled(TEAM_A)))[0] == 200
        await close(web, "D0CUSTB", TEAM_B)
        await deliver(worker)
        sid = (await rows(web, S))[0].id
        for n, text in enumerate(("2", "Nobody answered")):
            message = {"type": "message", "channel": "D0CUSTB", "user": "UCUST001", "text": text,
                       "ts": f"170000020{n}.000001", "channel_type": "im"}  # fmt: skip
            await post(web, event(TEAM_B, message, f"Ev0B{n}"))
        await deliver(worker)
    [alert] = [r for r in await rows(web, OB) if r.kind == "detractor_alert"]
    assert (alert.status, alert.last_error, alert.survey_id) == ("dead", "workspace uninstalled", sid)
    revoked_call = [c for c in fake.of("chat.postMessage") if c.params["channel"] == "CLEADS"]
    assert len(revoked_call) == 1  # the one attempt Slack refused
    assert all(c.unreachable_at is None for c in await rows(web, ContactRow.__table__))


async def test_a_configured_tokens_workspace_can_leave_and_come_back(tmp_path, fake: FakeSlack, clock) -> None:
    """bot_token only: the workspace auth.test names (T0001) uninstalls; its surveys are skipped from then on, until
    a start finds the configured token working again (a reinstall gave a new one)."""
    async with serve_desk(tmp_path, fake, clock) as client:
        assert (await post_json(client, desk_reaction("Ev0BEFORE1")))[0] == 200
        assert (await post_json(client, event("T0001", {"type": "app_uninstalled"}, "Ev0UNINST9")))[0] == 200
        [before] = await surveys(client)
        assert (before.workspace, before.state, before.skip_reason) == ("T0001", "skipped", "uninstalled")
        opened = await client.post(
            "/api/v1/conversations/close",
            json={"profile": "desk", "channel": "slack", "conversation_id": "D0X", "user_id": "U0X",
                  "workspace": "T0001"},
            headers=ADMIN_HEADERS,
        )  # fmt: skip
        assert (await opened.json())["survey"]["skip_reason"] == "uninstalled"
    async with serve_desk(tmp_path, fake, clock) as client:  # started again: auth.test answers for T0001
        assert (await post_json(client, desk_reaction("Ev0AFTER01")))[0] == 200
        assert [(r.workspace, r.state) for r in await surveys(client)][-1] == ("T0001", "asked")


async def test_a_request_journaled_before_its_workspace_left_is_dropped_on_replay(
    tmp_path, fake: FakeSlack, clock, store: Store
) -> None:
    """A process answered A's event and crashed before working it; A uninstalled meanwhile. The next start replays
    the request, finds no installation for A and lets it go instead of retrying it until it is dead."""
    async with serve(tmp_path, fake, clock, store=store) as client:
        await install(client, fake, "code-a", team_id=TEAM_A)
        await post(client, uninstalled(TEAM_A))
    crashed_at = clock() - timedelta(minutes=5)
    body = json.dumps(reaction(TEAM_A, "Ev0LEFTOVER", "C0ALPHA"))
    async with store.transaction() as conn:
        await journal.add(conn, "slack", "desk", body, {"content-type": "application/json"}, crashed_at, "gone:1",
                          timedelta(seconds=60))  # fmt: skip
    fake.calls.clear()
    async with serve(tmp_path, fake, clock, store=store) as client:
        await client.runtime.channel("slack", "desk").idle()  # type: ignore[attr-defined]
        async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
            assert await journal.entries(conn, "slack") == []
        assert await rows(client, S) == [] and fake.calls == []
