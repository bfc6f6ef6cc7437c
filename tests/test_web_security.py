"""Web security of the dashboard and API over HTTP: cross-site request forgery, sign-in throttling and the
security headers on every answer."""

from __future__ import annotations

import asyncio
import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bots.config import parse_config
from bots.dashboard.routes import STATIC
from bots.runtime import Runtime
from bots.serve import worker_app
from bots.throttle import FailureThrottle
from core.store import Store
from tests.conftest import FakeClock
from tests.web_apps import (
    ACME,
    ADMIN,
    add_detractor,
    bearer,
    config,
    cookie,
    followup_status,
    own_origin,
    serve,
    sign_in,
)

EVIL = "https://evil.example"


@pytest.fixture
async def client(store: Store, clock: FakeClock):
    async with serve(store.url, clock) as c:
        yield c


# --- cross-site request forgery -------------------------------------------------------------------------------


FORGED = {
    "a form on another site": ({"Origin": EVIL}, "form"),
    "another site's fetch": ({"Origin": EVIL}, "json"),
    "a sandboxed page (Origin: null)": ({"Origin": "null"}, "json"),
    "another site named by Referer only": ({"Referer": f"{EVIL}/page"}, "json"),
    "no Origin and no Referer": ({}, "json"),
    "our origin, but a form body": (None, "form"),
    "our origin, but text/plain (a form can send it)": (None, "text"),
}


@pytest.mark.parametrize("case", FORGED)
async def test_cookie_requests_from_elsewhere_change_nothing(client: TestClient, case: str) -> None:
    survey_id = await add_detractor(client, "f1")
    session = await sign_in(client, ADMIN)
    origin, body = FORGED[case]
    headers = {**cookie(session), **(own_origin(client) if origin is None else origin)}
    if body == "text":
        headers["Content-Type"] = "text/plain"
    kwargs = {"form": {"data": {"by": "mallory"}}, "json": {"json": {"by": "mallory"}}, "text": {"data": '{"by": "x"}'}}
    resp = await client.post(f"/api/v1/detractors/{survey_id}/resolve", headers=headers, **kwargs[body])
    assert resp.status == 403, await resp.text()
    assert resp.content_type == "application/json" and "error" in await resp.json()
    assert await followup_status(client, survey_id) == "open"
    # the same session from our own page, as the dashboard's fetch sends it, may act
    ok = await client.post(
        f"/api/v1/detractors/{survey_id}/resolve", headers={**cookie(session), **own_origin(client)}, json={"by": "ana"}
    )
    assert ok.status == 200 and (await ok.json())["resolved_by"] == "ana"


async def test_referer_stands_in_for_a_missing_origin(client: TestClient) -> None:
    survey_id = await add_detractor(client, "r1")
    session = await sign_in(client, ADMIN)
    referer = {"Referer": str(client.make_url("/report?profile=acme"))}
    url = f"/api/v1/detractors/{survey_id}/claim"
    resp = await client.post(url, headers={**cookie(session), **referer}, json={"by": "ana"})
    assert resp.status == 200 and await followup_status(client, survey_id) == "claimed"


async def test_bearer_requests_are_not_affected(client: TestClient) -> None:
    survey_id = await add_detractor(client, "b1")
    headers = {**bearer(ADMIN), "Origin": EVIL}
    resp = await client.post(f"/api/v1/detractors/{survey_id}/resolve", headers=headers, json={"by": "bot"})
    assert resp.status == 200 and await followup_status(client, survey_id) == "resolved"


async def test_sign_out_needs_our_origin(client: TestClient) -> None:
    session = await sign_in(client, ACME)
    forged = await client.post("/report/logout", headers={**cookie(session), "Origin": EVIL}, allow_redirects=False)
    assert forged.status == 403
    assert (await client.get("/report/data.json", headers=cookie(session))).status == 200
    out = await client.post("/report/logout", headers={**cookie(session), **own_origin(client)}, allow_redirects=False)
    assert out.status == 303
    assert (await client.get("/report/data.json", headers=cookie(session))).status == 401


async def test_a_sign_in_form_on_another_site_is_refused(client: TestClient, store: Store) -> None:
    resp = await client.post("/report/login", data={"token": ADMIN}, headers={"Origin": EVIL}, allow_redirects=False)
    assert resp.status == 403 and "npsbot_session" not in resp.cookies
    assert await session_rows(store) == 0


async def test_public_url_is_the_only_origin_accepted(store: Store, clock: FakeClock) -> None:
    public = "https://nps.example.com"
    async with serve(store.url, clock, public_url=public) as client:
        survey_id = await add_detractor(client, "p1")
        session = await sign_in(client, ADMIN, origin={"Origin": public})
        # the Host the request came in on is not enough once the public URL is configured
        by_host = await client.post(
            f"/api/v1/detractors/{survey_id}/claim", headers={**cookie(session), **own_origin(client)}, json={"by": "x"}
        )
        assert by_host.status == 403 and await followup_status(client, survey_id) == "open"
        for other in ("http://nps.example.com", "https://nps.example.com:8443", "https://app.nps.example.com"):
            resp = await client.post(
                f"/api/v1/detractors/{survey_id}/claim", headers={**cookie(session), "Origin": other}, json={"by": "x"}
            )
            assert resp.status == 403, other
        ok = await client.post(
            f"/api/v1/detractors/{survey_id}/claim", headers={**cookie(session), "Origin": public}, json={"by": "ana"}
        )
        assert ok.status == 200 and await followup_status(client, survey_id) == "claimed"


async def session_rows(store: Store) -> int:
    from core.store import sessions

    async with store.read() as conn:
        return await sessions.count(conn)


# --- sign-in throttling ---------------------------------------------------------------------------------------


async def attempt(client: TestClient, token: str):
    return await client.post("/report/login", data={"token": token}, headers=own_origin(client), allow_redirects=False)


async def test_failed_sign_ins_are_throttled_per_address(client: TestClient, store: Store, clock: FakeClock) -> None:
    for i in range(5):
        assert (await attempt(client, f"guess-{i}")).status == 401
        clock.advance(seconds=10)
    locked = await attempt(client, ADMIN)  # even the right token waits
    assert locked.status == 429 and "Too many failed sign-ins" in await locked.text()
    assert int(locked.headers["Retry-After"]) == 300 - 50  # until the first failure leaves the 5-minute window
    assert "npsbot_session" not in locked.cookies and await session_rows(store) == 0
    api = await client.get("/api/v1/nps", headers=bearer(ADMIN))
    assert api.status == 429 and int(api.headers["Retry-After"]) == 250 and "error" in await api.json()
    clock.advance(seconds=249)
    assert int((await attempt(client, ADMIN)).headers["Retry-After"]) == 1
    clock.advance(seconds=1)
    assert (await attempt(client, ADMIN)).status == 303  # one failure left the window: one more try is allowed
    assert (await attempt(client, "guess-5")).status == 401
    assert (await attempt(client, ADMIN)).status == 429


async def test_wrong_bearer_tokens_count_as_failed_sign_ins(client: TestClient, clock: FakeClock) -> None:
    for _ in range(8):  # no token at all is not a guess
        assert (await client.get("/api/v1/nps")).status == 401
    for i in range(5):
        assert (await client.get("/api/v1/nps", headers=bearer(f"guess-{i}"))).status == 401
    assert (await client.get("/api/v1/nps", headers=bearer(ADMIN))).status == 429
    assert (await client.get("/report/data.json", headers=bearer(ADMIN))).status == 429
    assert (await attempt(client, ADMIN)).status == 429
    clock.advance(seconds=300)
    assert (await client.get("/api/v1/nps", headers=bearer(ADMIN))).status == 200


def test_the_throttle_is_per_address_and_bounded() -> None:
    now = [0.0]
    throttle = FailureThrottle(limit=2, window=60, max_addresses=3, clock=lambda: now[0])
    throttle.fail("10.0.0.1")
    throttle.fail("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 60 and throttle.retry_after("10.0.0.2") == 0
    for i in range(100):
        throttle.fail(f"192.0.2.{i}")
    assert len(throttle) == 3
    now[0] = 61
    assert throttle.retry_after("192.0.2.99") == 0


# --- security headers -----------------------------------------------------------------------------------------


def assert_secure_headers(resp, what: str) -> None:
    h = resp.headers
    csp = h.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, what
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, what
    assert h.get("X-Content-Type-Options") == "nosniff", what
    assert h.get("Referrer-Policy") in ("no-referrer", "same-origin"), what
    assert h.get("X-Frame-Options") == "DENY", what
    assert "aiohttp" not in h.get("Server", "").lower() and "python" not in h.get("Server", "").lower(), what


async def test_every_answer_carries_the_security_headers(client: TestClient) -> None:
    session = await sign_in(client, ADMIN)
    data = {
        "/report/data.json": 200,
        "/report/responses.csv": 200,
        "/api/v1/nps": 200,
        "/api/v1/responses": 200,
        "/api/v1/responses.csv": 200,
        "/api/v1/responses/999": 404,
        "/api/v1/nps?bucket=year": 422,
        "/report/data.json?since=yesterday": 400,
    }
    for path, status in data.items():
        resp = await client.get(path, headers=bearer(ADMIN))
        assert resp.status == status, path
        assert_secure_headers(resp, path)
        assert "no-store" in resp.headers.get("Cache-Control", ""), path
    other = [
        ("GET", "/report", {}, 401),
        ("GET", "/report", cookie(session), 200),
        ("GET", "/report/data.json", {}, 401),
        ("GET", "/api/v1/nps", {}, 401),
        ("GET", "/api/v1/openapi.json", {}, 200),
        ("GET", "/healthz", {}, 200),
        ("GET", "/no/such/page", {}, 404),
        ("GET", "/report/static/dashboard.js", {}, 200),
        ("GET", "/report/static/dashboard.css", {}, 200),
        ("GET", "/report/static/nope.js", {}, 404),
        ("GET", "/api/v1/conversations/close", {}, 405),
        ("POST", "/api/v1/conversations/close", {**bearer(ADMIN), "Content-Type": "application/json"}, 400),
        ("POST", "/api/v1/detractors/1/resolve", {**cookie(session), "Origin": EVIL}, 403),
    ]
    for method, path, headers, status in other:
        resp = await client.request(method, path, headers=headers, data=b"{" if method == "POST" else None)
        assert resp.status == status, (method, path, await resp.text())
        assert_secure_headers(resp, f"{method} {path}")
        if not path.startswith("/report/static/") or status == 404:
            assert "no-store" in resp.headers.get("Cache-Control", ""), path
    big = await client.post("/api/v1/conversations/close", headers=bearer(ADMIN), data=b"x" * (2 * 1024 * 1024))
    assert big.status == 413
    assert_secure_headers(big, "413")


async def test_a_worker_process_answers_with_the_same_headers(store: Store, clock: FakeClock) -> None:
    runtime = Runtime(parse_config(config(store.url), env={}), clock=clock)
    try:
        async with TestClient(TestServer(worker_app(runtime))) as client:
            for path in ("/healthz", "/metrics", "/no/such/page"):
                assert_secure_headers(await client.get(path), f"worker {path}")
    finally:
        await runtime.store.dispose()


async def test_strict_transport_security_when_served_over_https(store: Store, clock: FakeClock) -> None:
    async with serve(store.url, clock, public_url="https://nps.example.com") as client:
        resp = await client.get("/healthz")
        assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
    async with serve(store.url, clock) as client:
        assert "Strict-Transport-Security" not in (await client.get("/healthz")).headers


async def test_no_version_even_on_a_request_aiohttp_answers_itself(client: TestClient) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
    writer.write(b"GARBAGE / HTTP/1.1\x00\r\nHost: x\r\n\r\n")
    answer = await reader.read()
    writer.close()
    head = answer.partition(b"\r\n\r\n")[0].decode("latin-1")
    assert re.match(r"HTTP/1\.[01] 400 ", head), head
    server = re.search(r"(?im)^server:(.*)$", head)
    assert server is None or "aiohttp" not in server.group(1).lower(), head


def test_pages_have_no_inline_script_or_style() -> None:
    """The policy allows no inline code, so the pages must hold none (the browser test shows they still work)."""
    for page in STATIC.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"{page.name}: inline <script>"
        assert "<style" not in html and not re.search(r"\sstyle\s*=", html), f"{page.name}: inline style"
        assert not re.search(r"\son[a-z]+\s*=", html), f"{page.name}: inline event handler"
    js = (STATIC / "dashboard.js").read_text(encoding="utf-8")
    assert not re.search(r"\beval\(|new Function|innerHTML|\.style\s*=|\"style\"", js)
