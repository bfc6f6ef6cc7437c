"""Slack requests as Slack sends them (signed JSON events, form-encoded interactivity) and the app serving one
`desk` profile against the fake Web API, shared by the Slack test modules."""

from __future__ import annotations

import json
import shutil
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.signing import slack_headers
from bots.sandbox.slack_api import FakeSlack
from core.store import Store
from core.store.tables import SurveyRow

SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"
CHAN, AGENT, CUSTOMER, OTHER = "C0SUPPORT", "UAGENT01", "UCUST001", "UOTHER01"
ROOT_TS = "1699999999.000100"
ADMIN = "admin-token-for-tests"
# https://api.slack.com/events/message.im, the example as published (a DM has channel_type "im").
MESSAGE_IM = {
    "token": "one-long-verification-token",
    "team_id": "T061EG9R6",
    "api_app_id": "A0PNCHHK2",
    "event": {
        "type": "message",
        "channel": "D024BE91L",
        "user": "U2147483697",
        "text": "Hello hello can you hear me?",
        "ts": "1355517523.000005",
        "event_ts": "1355517523.000005",
        "channel_type": "im",
    },
    "type": "event_callback",
    "authed_teams": ["T061EG9R6"],
    "event_id": "Ev0PV52K21",
    "event_time": 1355517523,
}
S = SurveyRow.__table__


def sign(body: str | bytes, ts: int | None = None, secret: str = SIGNING) -> dict[str, str]:
    return slack_headers(secret, body, ts)


async def slack_fake() -> AsyncIterator[FakeSlack]:
    """The fake Web API, as a fixture body: `fake = pytest.fixture(slack_fake)` in a test module."""
    f = await FakeSlack().start()
    yield f
    await f.close()


def _profile(fake: FakeSlack, overrides: dict[str, Any]) -> dict[str, Any]:
    slack = {"bot_token": "xoxb-test-token", "signing_secret": SIGNING, "api_base": fake.base}
    base = {
        "brand": "Acme",
        "policy": {"throttle": "0s"},
        "channels": {"slack": slack | overrides.pop("slack", {})},
        "alerts": [{"channel": "slack", "destination": "CLEADS"}],
    }
    return base | overrides


@asynccontextmanager
async def serve(
    tmp_path: Path,
    fake: FakeSlack,
    clock: Any,
    *,
    others: dict[str, dict[str, Any]] | None = None,
    store: Store | None = None,
    template: Path | None = None,
    **profile: Any,
) -> AsyncIterator[TestClient]:
    """The whole app (one `desk` profile with Slack) on a test server; `profile` overrides profile keys, `others`
    adds more Slack profiles (name → overrides of the same defaults), `store` (e.g. the conftest fixture, on
    SQLite or PostgreSQL) replaces the default SQLite file, which starts as a copy of `template` (the run's migrated
    file) when given, migrated here otherwise."""
    profiles = {"desk": _profile(fake, profile)} | {n: _profile(fake, dict(o)) for n, o in (others or {}).items()}
    cfg = {
        "database_url": store.url if store else f"sqlite:///{tmp_path / 'slack.db'}",
        "admin_tokens": [ADMIN],
        "server": {"max_body_bytes": 4096},
        "profiles": profiles,
    }
    if store is None and template is not None:
        shutil.copyfile(template, tmp_path / "slack.db")
    runtime = Runtime(parse_config(cfg, env={}), store=store, clock=clock)
    if store is None and template is None:
        await runtime.store.migrate()
    async with TestClient(TestServer(create_app(runtime))) as c:
        c.runtime = runtime  # type: ignore[attr-defined]
        yield c


async def slack_client(
    request: pytest.FixtureRequest, tmp_path: Path, fake: FakeSlack, clock: Any
) -> AsyncIterator[TestClient]:
    """The app on a test server, as a fixture body: `client = pytest.fixture(slack_client)`."""
    async with serve(tmp_path, fake, clock, template=request.getfixturevalue("sqlite_template")) as c:
        yield c


def channel(client: TestClient, profile: str = "desk") -> Any:
    return client.runtime.channel("slack", profile)  # type: ignore[attr-defined]


async def post_json(
    client: TestClient, payload: dict, headers: dict[str, str] | None = None, *, profile: str = "desk", **sign_kw: Any
) -> Any:
    body = json.dumps(payload)
    h = {"Content-Type": "application/json", **sign(body, **sign_kw), **(headers or {})}
    resp = await client.post(f"/slack/{profile}/events", data=body, headers=h)
    text = await resp.text()
    await channel(client, profile).idle()
    return resp.status, text


async def post_form(client: TestClient, form: dict[str, str], *, profile: str = "desk", **sign_kw: Any) -> Any:
    body = urllib.parse.urlencode(form)
    h = {"Content-Type": "application/x-www-form-urlencoded", **sign(body, **sign_kw)}
    resp = await client.post(f"/slack/{profile}/events", data=body, headers=h)
    text = await resp.text()
    await channel(client, profile).idle()
    return resp.status, text


def event(inner: dict, event_id: str) -> dict:
    return {
        "token": "one-long-verification-token",
        "team_id": "T061EG9R6",
        "api_app_id": "A0PNCHHK2",
        "event": inner,
        "type": "event_callback",
        "authed_teams": ["T061EG9R6"],
        "event_id": event_id,
        "event_time": 1699999999,
    }


def reaction(event_id: str = "Ev0REACT01", user: str = AGENT) -> dict:
    item = {"type": "message", "channel": CHAN, "ts": ROOT_TS}
    inner = {
        "type": "reaction_added",
        "user": user,
        "reaction": "white_check_mark",
        "item_user": CUSTOMER,
        "item": item,
    }
    return event(inner | {"event_ts": "1700000100.000200"}, event_id)


def thread_reply(text: str, event_id: str, user: str = CUSTOMER) -> dict:
    inner = {"type": "message", "channel": CHAN, "user": user, "text": text, "ts": f"1700000200.{event_id[-4:]}",
             "thread_ts": ROOT_TS, "channel_type": "channel", "event_ts": "1700000200.000001"}  # fmt: skip
    return event(inner, event_id)


def block_action(user: str, value: str, action_id: str, message: dict, action_ts: str = "1700000300.000001") -> dict:
    payload = {
        "type": "block_actions",
        "team": {"id": "T9TK3CUKW", "domain": "example"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T9TK3CUKW"},
        "api_app_id": "AABA1ABCD",
        "token": "9s8d9as89d8as9d8as989",
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": CHAN, "is_ephemeral": False},
        "trigger_id": "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
        "channel": {"id": message.get("channel", CHAN), "name": "support"},
        "message": {"type": "message", "bot_id": "BAH5CA16Z", "user": "UBOT", **message},
        "response_url": "https://hooks.slack.com/actions/AABA1ABCD/1232321423432/D09sSasdasdAS9091209",
        "actions": [
            {
                "action_id": action_id,
                "block_id": "b1",
                "text": {"type": "plain_text", "text": "x"},
                "value": value,
                "type": "button",
                "action_ts": action_ts,
            }
        ],
    }
    return {"payload": json.dumps(payload)}


async def deliver(client: TestClient) -> None:
    await client.runtime.worker.drain()  # type: ignore[attr-defined]


async def surveys(client: TestClient) -> list[Any]:
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        return list(await conn.execute(select(S).order_by(S.c.id)))


async def survey(client: TestClient) -> Any:
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        return (await conn.execute(select(S).order_by(S.c.id.desc()))).first()
