"""A profile whose Slack app is distributed ("Add to Slack"), served against the fake Web API, and an installer's
browser going through the install: shared by the Slack OAuth, workspace, rotation and uninstall tests.

Payload shapes: oauth.v2.access (docs.slack.dev/reference/methods/oauth.v2.access; org-wide installs:
api.slack.com/enterprise/apps/reference, `team: null`, `is_enterprise_install: true`), token rotation
(docs.slack.dev/authentication/using-token-rotation: oauth.v2.access with grant_type=refresh_token, 12-hour tokens),
app_uninstalled (api.slack.com/events/app_uninstalled) and tokens_revoked (api.slack.com/events/tokens_revoked);
the fake answers in those shapes (bots/sandbox/slack_oauth.py)."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.slack_api import FakeSlack
from core.secrets import new_key
from core.store import Store
from core.store.installation_tables import InstallationRow
from core.store.tables import OutboxRow, SurveyRow
from tests.slack_requests import ADMIN, SIGNING, sign

PUBLIC = "https://nps.example.com"
KEY, OLD_KEY = new_key(), new_key()
COOKIE = "npsbot-slack-desk"
IN, S, OB = InstallationRow.__table__, SurveyRow.__table__, OutboxRow.__table__
TEAM_A, TEAM_B, ORG = "T0ALPHA001", "T0BRAVO001", "E0GRID0001"
AGENT, CUSTOMER = "UAGENT01", "UCUST001"


def oauth_profile(fake: FakeSlack, **oauth: Any) -> dict[str, Any]:
    """The `desk` profile: its Slack app installed by whoever adds it (no bot_token), alerts to one channel of A."""
    settings = {"client_id": fake.workspaces.client_id, "client_secret": fake.workspaces.client_secret} | oauth
    return {
        "brand": "Acme",
        "policy": {"throttle": "0s"},
        "channels": {"slack": {"signing_secret": SIGNING, "api_base": fake.base, "oauth": settings}},
        "alerts": [{"channel": "slack", "destination": f"{TEAM_A}/CLEADS"}],
    }


@asynccontextmanager
async def serve(
    tmp_path: Path,
    fake: FakeSlack,
    clock: Any,
    *,
    store: Store | None = None,
    keys: str = KEY,
    profile: dict[str, Any] | None = None,
) -> AsyncIterator[TestClient]:
    cfg = {
        "database_url": store.url if store else f"sqlite:///{tmp_path / 'slack.db'}",
        "admin_tokens": [ADMIN],
        "server": {"public_url": PUBLIC},
        "profiles": {"desk": profile or oauth_profile(fake)},
    }
    runtime = Runtime(parse_config(cfg, env={"NPSBOT_TOKEN_KEYS": keys}), store=store, clock=clock)
    if store is None:
        await runtime.store.migrate()
    async with TestClient(TestServer(create_app(runtime))) as c:
        c.runtime = runtime  # type: ignore[attr-defined]
        c.session.cookie_jar.clear()
        yield c


async def start_install(client: TestClient, query: str = "") -> tuple[str, str]:
    """The installer opens the "Add to Slack" page: the state Slack will hand back, and Slack's authorize URL."""
    resp = await client.get(f"/slack/desk/install{query}", allow_redirects=False)
    assert resp.status == 200, await resp.text()
    url = re.search(r'href="([^"]+)"', await resp.text())
    assert url is not None
    authorize = url.group(1).replace("&amp;", "&")
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(authorize).query)["state"][0]
    assert resp.cookies[COOKIE].value == state  # the browser keeps it, to prove it is the one that started
    client.session.cookie_jar.clear()
    return state, authorize


async def finish_install(client: TestClient, state: str | None, *, cookie: str | None = None, **query: str) -> Any:
    """Slack sends the browser back with the code (or an error); the browser shows the state cookie it got."""
    params = query | ({"state": state} if state is not None else {})
    jar = cookie if cookie is not None else state
    headers = {"Cookie": f"{COOKIE}={jar}"} if jar else {}
    path = "/slack/desk/oauth_redirect?" + urllib.parse.urlencode(params)
    return await client.get(path, headers=headers, allow_redirects=False)


async def install(client: TestClient, fake: FakeSlack, code: str, **grant: Any) -> Any:
    """A whole install: the page, Slack's "Allow" (a grant for `code`), and the redirect back."""
    fake.workspaces.grant(code, **grant)
    state, _ = await start_install(client)
    resp = await finish_install(client, state, code=code)
    assert resp.status == 200, await resp.text()
    return resp


def event(team: str, inner: dict[str, Any], event_id: str, **envelope: Any) -> dict[str, Any]:
    """An Events API envelope from `team` (docs.slack.dev/apis/events-api: team_id, api_app_id, event, …)."""
    return {
        "token": "one-long-verification-token",
        "team_id": team,
        "api_app_id": "A0NPSBOT01",
        "event": inner,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1699999999,
        **envelope,
    }


def reaction(team: str, event_id: str, channel: str, ts: str = "1699999999.000100", **envelope: Any) -> dict:
    """The close reaction an agent adds to a customer's thread."""
    inner = {"type": "reaction_added", "user": AGENT, "reaction": "white_check_mark", "item_user": CUSTOMER,
             "item": {"type": "message", "channel": channel, "ts": ts}, "event_ts": "1700000100.000200"}  # fmt: skip
    return event(team, inner, event_id, **envelope)


async def post(client: TestClient, payload: dict[str, Any]) -> tuple[int, str]:
    body = json.dumps(payload)
    resp = await client.post(
        "/slack/desk/events", data=body, headers={"Content-Type": "application/json", **sign(body)}
    )
    text = await resp.text()
    await client.runtime.channel("slack", "desk").idle()  # type: ignore[attr-defined]
    return resp.status, text


async def rows(client: TestClient, table: Any) -> list[Any]:
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        return list(await conn.execute(select(table).order_by(table.c[next(iter(table.primary_key)).name])))


async def deliver(client: TestClient) -> None:
    await client.runtime.worker.drain()  # type: ignore[attr-defined]
