"""The real app on a test server, signed in as a browser would: shared by the web security and session tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bots.app import RUNTIME, create_app
from bots.auth import SESSION_COOKIE
from bots.config import parse_config
from bots.runtime import Runtime
from bots.throttle import THROTTLE, FailureThrottle
from core import followup
from core.types import Address, ConversationClosed, ScoreGiven, TextReceived
from tests.conftest import FakeClock

ADMIN, ACME, TAPAS = "sec-admin-token-0123456789", "sec-acme-token-0123456789", "sec-tapas-token-0123456789"


def config(
    url: str,
    *,
    admin: tuple[str, ...] = (ADMIN,),
    acme: tuple[str, ...] = (ACME,),
    public_url: str | None = None,
) -> dict[str, Any]:
    return {
        "database_url": url,
        "admin_tokens": list(admin),
        "server": {"public_url": public_url},
        "profiles": {
            "acme": {
                "brand": "Acme",
                "api_tokens": list(acme),
                "policy": {"throttle": "0s"},
                "channels": {"memory": {}},
            },
            "tapas": {"brand": "Tapas", "api_tokens": [TAPAS], "channels": {"memory": {}}},
        },
    }


@asynccontextmanager
async def serve(url: str, clock: FakeClock, **options: Any) -> AsyncIterator[TestClient]:
    """One web process over `url` (already migrated); its sign-in throttle reads the same hand-moved clock."""
    runtime = Runtime(parse_config(config(url, **options), env={}), clock=clock)
    app = create_app(runtime)
    app[THROTTLE] = FailureThrottle(clock=lambda: clock.now.timestamp())
    async with TestClient(TestServer(app)) as client:
        yield client


def own_origin(client: TestClient) -> dict[str, str]:
    """What a browser showing this server's own page sends with a form or fetch POST."""
    return {"Origin": str(client.make_url("/").origin())}


def cookie(session_id: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={session_id}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_in(client: TestClient, token: str, origin: dict[str, str] | None = None) -> str:
    """The session id the sign-in form hands the browser. The client's jar is emptied so each request names its
    cookie explicitly."""
    resp = await client.post(
        "/report/login", data={"token": token}, headers=origin or own_origin(client), allow_redirects=False
    )
    assert resp.status == 303, await resp.text()
    session_id = resp.cookies[SESSION_COOKIE].value
    client.session.cookie_jar.clear()
    return session_id


async def add_detractor(client: TestClient, conversation: str) -> int:
    """A completed detractor survey on acme, its follow-up open; returns its id."""
    service = runtime(client).service
    address = Address("memory", "acme", conversation, f"u-{conversation}")
    await service.handle(ConversationClosed(address, agent="ana"))
    await service.handle(ScoreGiven(address, 2))
    await service.handle(TextReceived(address, "slow answer"))
    items = await followup.list_followups(runtime(client).store, ("acme",))
    return next(int(i["id"]) for i in items if i["user_id"] == f"u-{conversation}")  # type: ignore[call-overload]


def runtime(client: TestClient) -> Runtime:
    return client.server.app[RUNTIME]


async def followup_status(client: TestClient, survey_id: int) -> str:
    resp = await client.get("/api/v1/detractors?profile=acme", headers=bearer(ADMIN))
    assert resp.status == 200
    return next(i["status"] for i in (await resp.json())["items"] if i["id"] == survey_id)
