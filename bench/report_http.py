"""What a user waits for: the dashboard's one request (`GET /report/data.json`) and the operator API's reports,
timed through the real aiohttp app (bots/app.py) over a store of generated surveys, with an operator token as a
browser or a script sends it. The rollup report bench times them next to its bare GROUP BY."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import ClientTimeout
from aiohttp.test_utils import TestClient, TestServer

from bots.api.models import DashboardParams
from bots.app import create_app
from bots.config import parse_config
from bots.dashboard.data import dashboard_body
from bots.runtime import Runtime
from core.store import Store

TOKEN = "bench-operator-token"
PROFILES = [f"p{n}" for n in range(5)]  # the profiles the generated surveys carry
# The requests timed, label first: what the dashboard and the API's reports ask for.
REQUESTS = [
    ("GET /report/data.json", "/report/data.json"),
    ("GET /report/data.json?profile=p1", "/report/data.json?profile=p1"),
    ("GET /api/v1/nps?by=agent&bucket=week", "/api/v1/nps?by=agent&bucket=week"),
    ("GET /api/v1/themes", "/api/v1/themes"),
    ("GET /api/v1/variants?profile=p1", "/api/v1/variants?profile=p1"),
    ("GET /api/v1/detractors", "/api/v1/detractors"),
    ("GET /api/v1/sla", "/api/v1/sla"),
    ("GET /api/v1/sla?profile=p1, 90 days", "/api/v1/sla?profile=p1&since=2025-04-01T09:30:00Z&until=2025-06-30"),
    ("GET /report/data.json?profile=p1, 90 days", "/report/data.json?profile=p1&since=2025-04-01&until=2025-06-30"),
    ("GET /api/v1/responses (first page)", "/api/v1/responses"),
]


def config(url: str) -> dict[str, Any]:
    """An operator token over every profile the data carries (each with the in-memory channel: nothing to reach)."""
    return {
        "database_url": url,
        "admin_tokens": [TOKEN],
        "profiles": {name: {"brand": name, "channels": {"memory": {}}} for name in PROFILES},
    }


def plain_url(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


@asynccontextmanager
async def app_client(store: Store) -> AsyncIterator[tuple[TestClient, Runtime]]:
    """The service's app over `store`'s database (a runtime of its own, as a web process has), on 127.0.0.1."""
    runtime = Runtime(parse_config(config(plain_url(store)), env={}))
    server = TestServer(create_app(runtime), host="127.0.0.1")
    # no client timeout: a slow report is timed, not cut off at aiohttp's default 5 minutes
    async with TestClient(server, timeout=ClientTimeout(total=None)) as client:
        yield client, runtime


def one_by_one(runtime: Runtime) -> Callable[[], Awaitable[object]]:
    """The dashboard's body with its parts read one after the other, each on its own: what data.json cost before
    its parts ran side by side."""

    async def body() -> object:
        params = DashboardParams.parse({})
        now = runtime.service.clock()
        return await dashboard_body(runtime, params.filters(), params, PROFILES, now, concurrently=False)

    return body


def requester(client: TestClient, path: str) -> Callable[[], Awaitable[object]]:
    async def get() -> object:
        resp = await client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
        body = await resp.read()
        assert resp.status == 200, f"{path}: {resp.status} {body[:300]!r}"
        return body

    return get
