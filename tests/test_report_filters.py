"""Report filters read one way by the operator API, the dashboard and `npsbot report`, on SQLite and PostgreSQL:
date bounds, refused values (NUL, dates off the supported calendar), token scope on dead letters, unknown profiles
and margins of error that are undefined."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import ClientResponse, ClientSession
from aiohttp.test_utils import TestClient, TestServer
from rich.console import Console
from sqlalchemy import text, update
from yarl import URL

from adapters.memory import MemoryChannel
from bots.app import create_app
from bots.cli import main
from bots.config import parse_config
from bots.demo_report import print_report
from bots.report_cli import ReportError, run_report
from bots.runtime import Runtime
from core.reports import Summary
from core.reports.filters import FilterError, ReportFilters
from core.scoring import nps
from core.store import outbox as ob
from core.types import Say
from tests.conftest import TABLES, FakeClock
from tests.live import live_app

ADMIN, ACME, TAPAS = "filters-admin", "filters-acme", "filters-tapas"
JAN31 = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
FEB01 = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
TAPAS_DAY = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Served:
    client: TestClient
    url: str
    runtime: Runtime

    async def get(self, *args: Any, **kwargs: Any) -> ClientResponse:
        return await self.client.get(*args, **kwargs)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def app(request: pytest.FixtureRequest, tmp_path):
    """The app over each backend with acme answered on 31 January (10) and 1 February (3), and one tapas answer."""
    url = f"sqlite:///{tmp_path / 'f.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    cfg = {
        "database_url": url,
        "admin_tokens": [ADMIN],
        "profiles": {
            name: {
                "brand": name.title(),
                "api_tokens": [token],
                "policy": {"throttle": "0s"},
                "channels": {"memory": {}},
            }
            for name, token in (("acme", ACME), ("tapas", TAPAS))
        },
    }
    clock = FakeClock(JAN31)
    runtime = Runtime(parse_config(cfg, env={}), clock=clock)
    await runtime.store.migrate()
    if request.param == "postgres":
        async with runtime.store.transaction() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY"))
    acme, tapas = MemoryChannel(runtime.service, "acme"), MemoryChannel(runtime.service, "tapas")
    for at, chat, conv, score in [(JAN31, acme, "a1", 10), (FEB01, acme, "a2", 3), (TAPAS_DAY, tapas, "t1", 9)]:
        clock.now = at
        await chat.close(conv, f"u-{conv}", agent="ana")
        await chat.tap(conv, f"u-{conv}", score)
    async with TestClient(TestServer(create_app(runtime))) as client:
        yield Served(client, url, runtime)
    await runtime.store.dispose()


async def api_count(client: Served, query: str) -> int:
    resp = await client.get(f"/api/v1/nps?profile=acme&{query}", headers=bearer(ADMIN))
    assert resp.status == 200, await resp.text()
    return (await resp.json())["summary"]["responses"]


async def dashboard_count(client: Served, query: str) -> int:
    resp = await client.get(f"/report/data.json?profile=acme&{query}", headers=bearer(ADMIN))
    assert resp.status == 200, await resp.text()
    return (await resp.json())["summary"]["responses"]


async def cli_count(client: Served, **dates: str) -> int:
    out = await run_report(
        client.url, profile="acme", by=[], bucket="week", fmt="json", minimum=30,
        since=dates.get("since"), until=dates.get("until"),
    )  # fmt: skip
    return json.loads(out)["summary"]["responses"]


BOUNDS = [
    # a bare date as `until` includes that whole day; a time is an exclusive bound; a bare `since` starts that day
    ({"until": "2026-01-31"}, 1),
    ({"until": "20260131"}, 1),  # the ISO basic form is a bare date too
    ({"until": "2026-01-30"}, 0),
    ({"until": "2026-01-31T12:00:00Z"}, 0),
    ({"until": "2026-01-31T13:00+01:00"}, 0),  # the same instant
    ({"until": "2026-01-31T12:00:01"}, 1),  # no offset means UTC
    ({"since": "2026-02-01"}, 1),
    ({"since": "2026-01-31T12:00:00Z"}, 2),
    ({"since": "2026-01-31T12:00:01Z"}, 1),
    ({"since": "2026-01-31", "until": "2026-01-31"}, 1),  # one day, both ends named by it
    ({"since": "2026-02-01", "until": "2026-01-31"}, 0),  # an empty window
]


async def test_api_dashboard_and_cli_read_date_bounds_the_same_way(app: Served) -> None:
    for dates, expected in BOUNDS:
        query = "&".join(f"{k}={v.replace('+', '%2B')}" for k, v in dates.items())
        got = (await api_count(app, query), await dashboard_count(app, query), await cli_count(app, **dates))
        assert got == (expected,) * 3, dates


def test_the_parser_names_the_instants() -> None:
    f = ReportFilters.parse({"since": "2026-01-31", "until": "2026-01-31", "agent": "", "team": "care"})
    assert f.since == datetime(2026, 1, 31, tzinfo=UTC) and f.until == datetime(2026, 2, 1, tzinfo=UTC)
    assert f.agent is None and f.team == "care"  # an empty field (a form's "all") is no filter
    assert ReportFilters.parse({"until": "2026-01-31T09:30+02:00"}).until == datetime(2026, 1, 31, 7, 30, tzinfo=UTC)
    assert ReportFilters.parse({"since": datetime(2026, 1, 31, 9)}).since == datetime(2026, 1, 31, 9, tzinfo=UTC)
    filters = ReportFilters.parse({"profile": "acme"}).filters(profiles=("acme",))
    assert (filters.profile, filters.profiles, filters.since) == ("acme", ("acme",), None)


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00+05:00",
        "0001-01-01",
        "9999-12-30",
        "9999-12-31",
        "9999-12-31T23:59-05:00",
        "10000-01-01",
        "1899-12-31",
        "3000-01-01",
        "yesterday",
        "2026-02-30",
        "2026-01-31T25:00",
        "x" * 5000,
        "2026-01-31\x00",
    ],
)
def test_the_parser_refuses_dates_off_the_calendar_as_malformed(value: str) -> None:
    for name in ("since", "until"):
        with pytest.raises(FilterError) as caught:
            ReportFilters.parse({name: value})
        assert caught.value.malformed and str(caught.value).startswith(f"{name}: ")
        assert "\n" not in str(caught.value) and len(str(caught.value)) < 300


def test_the_widest_accepted_dates() -> None:
    f = ReportFilters.parse({"since": "1900-01-01T00:00+05:00", "until": "2999-12-31"})
    assert f.since == datetime(1899, 12, 31, 19, tzinfo=UTC) and f.until == datetime(3000, 1, 1, tzinfo=UTC)


EXTREMES = [
    "since=0001-01-01T00:00%2B05:00",
    "since=0001-01-01",
    "until=9999-12-30",
    "until=9999-12-31",
    "since=9999-12-31T23:59-05:00",
    "until=10000-01-01",
    "since=0001-01-01T00:00:00%2B23:59&until=9999-12-31T23:59:59-23:59",
    "since=yesterday",
]
REPORT_PATHS = ["/api/v1/responses", "/api/v1/responses.csv", "/api/v1/nps?by=agent&bucket=day",
                "/report/data.json?bucket=day", "/report/responses.csv"]  # fmt: skip


async def test_extreme_dates_are_a_400_everywhere(app: Served) -> None:
    for path in REPORT_PATHS:
        for query in EXTREMES:
            url = path + ("&" if "?" in path else "?") + query
            resp = await app.get(url, headers=bearer(ADMIN))
            assert resp.status == 400, (url, resp.status, await resp.text())
            error = (await resp.json())["error"]
            assert error.startswith(("since: ", "until: ")) and ("1900" in error or "ISO 8601" in error), error
        widest = path + ("&" if "?" in path else "?") + "since=1900-01-01T00:00%2B05:00&until=2999-12-31"
        assert (await app.get(widest, headers=bearer(ADMIN))).status == 200, widest
    # an offset's "+" sent unencoded arrives as a space: the error says so
    resp = await app.get(URL("/api/v1/nps?until=2026-01-31T09:00+02:00", encoded=True), headers=bearer(ADMIN))
    assert resp.status == 400 and "%2B" in (await resp.json())["error"]


async def test_nul_in_any_filter_is_a_422_everywhere(app: Served) -> None:
    cases = [
        ("/report/data.json", "search"), ("/report/data.json", "agent"), ("/report/data.json", "team"),
        ("/report/data.json", "profile"), ("/report/responses.csv", "agent"), ("/report/responses.csv", "locale"),
        ("/api/v1/nps", "agent"), ("/api/v1/responses.csv", "channel"), ("/api/v1/responses", "team"),
    ]  # fmt: skip
    for path, name in cases:
        resp = await app.get(URL(f"{path}?{name}=a%00b", encoded=True), headers=bearer(ADMIN))
        assert resp.status == 422, (path, name, await resp.text())
        assert (await resp.json())["error"].startswith(f"{name}: ") and "NUL" in (await resp.json())["error"]
    assert (await app.get("/report/data.json?category=great", headers=bearer(ADMIN))).status == 422
    assert (await app.get("/report/data.json?bucket=year", headers=bearer(ADMIN))).status == 422
    ok = await app.get("/report/data.json?search=&category=&agent=&bucket=", headers=bearer(ADMIN))
    assert ok.status == 200 and (await ok.json())["summary"]["responses"] == 3  # the form's empty fields filter nothing


async def test_the_cli_refuses_what_the_http_endpoints_refuse(app: Served, capsys) -> None:
    url = app.url
    with pytest.raises(ReportError, match="NUL"):
        await run_report(url, profile=None, since=None, until=None, by=[], bucket="week", fmt="json", minimum=30,
                         agent="a\x00b")  # fmt: skip
    with pytest.raises(ReportError, match=r"^until: .*1900"):
        await run_report(url, profile=None, since=None, until="9999-12-30", by=[], bucket="week", fmt="json",
                         minimum=30)  # fmt: skip


def test_cli_extreme_date_is_a_one_line_error(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    for option, value in [("--since", "0001-01-01T00:00+05:00"), ("--until", "9999-12-30"), ("--until", "10000-01-01")]:
        assert main(["report", "--database", url, option, value]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"npsbot report: {option[2:]}: "), err


async def test_unknown_profile_is_named_not_reported_as_empty(app: Served, tmp_path, capsys) -> None:
    url = app.url
    with pytest.raises(ReportError, match="no profile 'nope'"):
        await run_report(url, profile="nope", since=None, until=None, by=[], bucket="week", fmt="json", minimum=30)
    # a configured profile without answers yet is an honest n=0; one only in the database (since removed from the
    # configuration) still has its history
    cfg = tmp_path / "npsbot.yaml"
    cfg.write_text(f"database_url: {url}\nprofiles: {{quiet: {{brand: Quiet}}, acme: {{brand: Acme}}}}\n")
    assert await asyncio.to_thread(main, ["report", "-c", str(cfg), "--profile", "nope", "--format", "json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no profile 'nope'" in err and "acme, quiet" in err
    assert await asyncio.to_thread(main, ["report", "-c", str(cfg), "--profile", "quiet", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["responses"] == 0
    assert await asyncio.to_thread(main, ["report", "-c", str(cfg), "--profile", "tapas", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["responses"] == 1
    for path in ("/api/v1/nps", "/api/v1/responses", "/report/data.json", "/report/responses.csv"):
        resp = await app.get(f"{path}?profile=nope", headers=bearer(ADMIN))
        assert resp.status == 404 and "nope" in (await resp.json())["error"], path
    assert (await app.get("/report/data.json?profile=tapas", headers=bearer(ACME))).status == 403


async def test_a_scoped_token_gets_a_full_page_of_its_own_dead_letters(app: Served) -> None:
    async def dead(profile: str, n: int) -> None:
        thanks = Say("Thanks!", purpose="thanks")
        messages = [ob.NewMessage(profile, "memory", f"given-up-{profile}-{i}", {}, thanks) for i in range(n)]
        async with app.runtime.store.transaction() as conn:
            await ob.enqueue(conn, messages, JAN31)
            given_up = ob.OB.c.ordering_key.startswith(f"given-up-{profile}-")
            await conn.execute(update(ob.OB).where(given_up).values(status=ob.DEAD, last_error="410 Gone"))

    await dead("tapas", 4)
    await dead("acme", 40)  # newer than all of tapas' dead letters

    async def page(token: str, query: str = "") -> list[dict]:
        resp = await app.get(f"/api/v1/dead-letters?{query}", headers=bearer(token))
        assert resp.status == 200, await resp.text()
        return (await resp.json())["items"]

    assert [i["profile"] for i in await page(TAPAS, "limit=10")] == ["tapas"] * 4
    assert [i["profile"] for i in await page(TAPAS, "limit=3")] == ["tapas"] * 3
    assert [i["profile"] for i in await page(TAPAS, "profile=tapas&limit=2")] == ["tapas"] * 2
    assert len(await page(ACME, "limit=500")) == 40
    assert {i["profile"] for i in await page(ADMIN, "limit=500")} == {"acme", "tapas"}
    assert len(await page(ADMIN, "limit=10")) == 10
    ids = [i["id"] for i in await page(TAPAS)]
    assert ids == sorted(ids, reverse=True)  # newest first


async def test_a_single_answer_has_no_margin_of_error(app: Served) -> None:
    body = await (await app.get("/api/v1/nps?by=profile&bucket=day", headers=bearer(ADMIN))).json()
    rows = {r["key"]: r for r in body["breakdown"]}
    tapas = rows["tapas"]
    assert [tapas[k] for k in ("responses", "nps", "margin", "low", "high")] == [1, 100.0, None, None, None]
    assert "one response" in tapas["margin_reason"]
    assert rows["acme"]["margin"] > 0 and rows["acme"]["margin_reason"] is None  # a promoter and a detractor
    assert all(p["margin"] is None and p["margin_reason"] for p in body["trend"])  # one answer per day
    dash = await (await app.get("/report/data.json?profile=tapas", headers=bearer(ADMIN))).json()
    assert dash["summary"]["margin"] is None and "one response" in dash["summary"]["margin_reason"]


def test_the_openapi_document_states_the_same_reading_of_dates() -> None:
    from bots.api.openapi import spec

    for path, ops in spec()["paths"].items():
        for name in ("since", "until"):
            params = {p["name"]: p for p in ops.get("get", {}).get("parameters", [])}
            if name not in params:
                continue
            pattern = re.compile(params[name]["schema"]["pattern"])
            for year in (1899, 1900, 2026, 2999, 3000, 9999):
                value = f"{year}-06-01T00:00:00Z"
                try:
                    ReportFilters.parse({name: value})
                    accepted = True
                except FilterError:
                    accepted = False
                assert bool(pattern.search(value)) is accepted, (path, name, year)
    until = {p["name"]: p for p in spec()["paths"]["/api/v1/nps"]["get"]["parameters"]}["until"]
    assert "includes that whole day" in until["description"] and "exclusive" in until["description"]


class DevTools:
    """Headless Chromium driven over the DevTools protocol (no chromedriver needed): open a page with a bearer
    token on every request and read the rendered DOM."""

    def __init__(self, ws: Any) -> None:
        self.ws, self.next_id = ws, 0
        self.session: str | None = None

    async def call(self, method: str, **params: Any) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if self.session is not None:
            message["sessionId"] = self.session
        await self.ws.send_json(message)
        while True:
            reply = await self.ws.receive_json(timeout=30)
            if reply.get("id") == self.next_id:
                assert "error" not in reply, reply
                return reply["result"]

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result["result"].get("value")


@pytest.mark.browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium is not installed")
async def test_the_dashboard_shows_an_undefined_margin_and_why(tmp_path) -> None:
    """One answer in the whole report: the headline, the breakdown and the trend each say the margin is undefined."""

    async def one_answer(runtime: Runtime) -> None:
        chat = MemoryChannel(runtime.service, "acme")
        await chat.close("c1", "u1", agent="ana")
        await chat.tap("c1", "u1", 10)

    cfg = {
        "database_url": f"sqlite:///{tmp_path / 'b.db'}",
        "admin_tokens": [ADMIN],
        "profiles": {"acme": {"brand": "Acme", "policy": {"throttle": "0s"}, "channels": {"memory": {}}}},
    }
    browser = await asyncio.create_subprocess_exec(
        shutil.which("chromium"), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--remote-debugging-port=0", f"--user-data-dir={tmp_path / 'profile'}", "about:blank",
        stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        endpoint = ""
        while not endpoint:
            line = (await asyncio.wait_for(browser.stderr.readline(), 30)).decode()  # type: ignore[union-attr]
            assert line, "chromium exited"
            endpoint = line.split("listening on ", 1)[1].strip() if "DevTools listening on " in line else ""
        with live_app(cfg, one_answer) as url:
            async with ClientSession() as http, http.ws_connect(endpoint, max_msg_size=0) as ws:
                tools = DevTools(ws)
                target = (await tools.call("Target.createTarget", url="about:blank"))["targetId"]
                tools.session = (await tools.call("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
                await tools.call("Network.enable")
                await tools.call("Network.setExtraHTTPHeaders", headers={"Authorization": f"Bearer {ADMIN}"})
                await tools.call("Page.navigate", url=f"{url}/report")
                for _ in range(300):  # a guard against a page that never finishes, not a speed check
                    if await tools.evaluate("document.body && document.body.dataset.loaded") == "true":
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError("the dashboard never finished drawing (a script error?)")
                shown = await tools.evaluate(
                    """({
                      interval: document.getElementById("interval").textContent,
                      cell: [...document.querySelectorAll("table[data-dimension=profile] td")]
                        .map((td) => [td.textContent, td.title]),
                      dots: [...document.querySelectorAll("#trend circle")].map((c) => c.dataset.margin),
                      band: document.querySelectorAll("#trend path[fill^='rgba']").length,
                    })"""
                )  # fmt: skip
    finally:
        browser.kill()
        await browser.wait()
    assert shown["interval"].startswith("margin of error undefined: one response")
    assert "95 % interval" not in shown["interval"] and "NaN" not in shown["interval"]
    [key, responses, _nps, margin, *_counts] = shown["cell"]
    assert (key[0], responses[0], margin[0]) == ("acme", "1", "n/a") and margin[1].startswith("one response")
    assert shown["dots"] == ["undefined"] and shown["band"] == 0  # no zero-width band drawn around the point


async def test_the_terminal_reports_print_na_for_an_undefined_margin(app: Served) -> None:
    console = Console(record=True, width=160)
    await run_report(app.url, profile=None, since=None, until=None, by=["profile"], bucket="week", fmt="table",
                     minimum=30, console=console)  # fmt: skip
    rows = {line.split("│")[1].strip(): line for line in console.export_text().splitlines() if line.startswith("│")}
    assert "+100.0 ± n/a" in rows["tapas"] and "± 0.0" not in console.export_text()
    demo = Console(record=True, width=160)
    print_report(demo, Summary(nps(1, 0, 1), 2), {"profile": [("tapas", Summary(nps(1, 0, 0), 1))]})
    out = demo.export_text()
    assert "NPS +0.0 ± 138.6 (n=2)" in out and "+100.0 ± n/a *" in out
