"""The app the inbound fuzz suite drives: every channel on one `acme` profile (plus `beta`, out of a profile token's
reach), the fake Bot API and Slack Web API on 127.0.0.1 so no call leaves the machine, surveys seeded in every state,
all served by the real aiohttp app (its middlewares included) on a loop of its own. Hypothesis drives examples from
plain test functions; `exchange` sends one request and checks what every route must keep to."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

import aiohttp
import pytest
import yarl
from aiohttp.test_utils import TestServer
from hypothesis import settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from bots.app import create_app
from bots.auth import SESSION_COOKIE
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.slack_api import FakeSlack
from bots.sandbox.telegram_api import FakeTelegram
from core.store.tables import InboundJournalRow, SurveyRow
from core.types import Address, ConversationClosed, ScoreGiven, TextReceived
from tests.conftest import TABLES, FakeClock
from tests.fuzz_values import either, odd_dates

PROFILE, OTHER = "acme", "beta"
ADMIN_TOKEN, PROFILE_TOKEN = "fuzz-admin-token", "fuzz-acme-token"
TG_TOKEN, TG_SECRET = "123456:fuzz-token", "fuzz-telegram-secret"
TG_AGENT, TG_SUPPORT, TG_TOPIC, TG_TOPIC_CHAT = 7, -100999, 77, 5151
SLACK_SECRET, SLACK_CHANNEL, SLACK_AGENT = "fuzz-slack-signing", "C0SUPPORT", "UAGENT01"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CHATWOOT_TOKEN = "chatwoot-fuzz-token-123"
MEMORY_TOKEN = "fuzz-memory-token"
SCORES = (None, 3, 3, 10)  # asked; scored detractor; detractor with a comment; promoter with a comment
# Seeded customers per channel: (conversation id, user id, thread), one per entry of SCORES.
CUSTOMERS: dict[str, list[tuple[str, str, str | None]]] = {
    "telegram": [(str(5001 + i), str(5001 + i), None) for i in range(4)],
    "slack": [(SLACK_CHANNEL, f"UCUST00{i}", f"169999999{i}.000100") for i in range(4)],
    "webhook": [(f"w{i}", f"contact{i}", None) for i in range(4)],
    "chatwoot": [(str(101 + i), str(9 + i), None) for i in range(4)],  # Chatwoot's ids are integers
    "memory": [(f"m{i}", f"u{i}", None) for i in range(4)],
}
CHANNELS = list(CUSTOMERS)
# The report filters every read of the API and the dashboard takes, with the values the seeded surveys hold.
REPORT_FILTERS: dict[str, st.SearchStrategy[Any]] = {
    "profile": either([PROFILE, OTHER, "nope", ""]),
    "channel": either([*CHANNELS, ""]),
    "agent": either(["agent0", "agent2", ""]),
    "team": either(["t", ""]),
    "locale": either(["en", "es", ""]),
    "since": odd_dates(),
    "until": odd_dates(),
}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PG_SHARE = 0.25  # PostgreSQL runs a quarter of the examples: slower per request, and its bugs are NUL and widths


def fuzz_settings(backend: str, share: float = 1.0) -> settings:
    """The registered `npsbot-fuzz` profile (tests/conftest.py) scaled for one property and backend."""
    base = settings.get_profile("npsbot-fuzz")
    scale = share * (PG_SHARE if backend == "postgres" else 1.0)
    return settings(base, max_examples=max(3, round(base.max_examples * scale)))


def _memory_channel() -> dict[str, Any]:
    """The memory channel with its trial endpoint on (it is off unless `http: true`, and needs a bearer token)."""
    return {"http": True, "token": MEMORY_TOKEN}


def app_config(database_url: str, telegram: FakeTelegram, slack: FakeSlack) -> dict[str, Any]:
    channels = {
        "telegram": {"token": TG_TOKEN, "secret_token": TG_SECRET, "api_base": telegram.base, "agents": [TG_AGENT],
                     "support_chat_id": TG_SUPPORT, "topic_customers": {TG_TOPIC: TG_TOPIC_CHAT},
                     "per_chat_per_second": 1000, "per_bot_per_second": 1000, "per_group_per_minute": 100000},
        "slack": {"bot_token": "xoxb-fuzz", "signing_secret": SLACK_SECRET, "api_base": slack.base,
                  "agents": [SLACK_AGENT]},
        "webhook": {"secrets": [WEBHOOK_SECRET]},
        "chatwoot": {"base_url": "http://127.0.0.1:9", "account_id": 1, "api_token": "cw-api-token",
                     "webhook_token": CHATWOOT_TOKEN},
        "memory": _memory_channel(),
    }  # fmt: skip
    policy = {"throttle": "0s"}
    return {
        "database_url": database_url,
        "admin_tokens": [ADMIN_TOKEN],
        "profiles": {
            PROFILE: {"brand": "Acme", "policy": policy, "channels": channels, "api_tokens": [PROFILE_TOKEN]},
            OTHER: {"brand": "Beta", "policy": policy, "channels": {"memory": _memory_channel()}},
        },
    }


async def _seed(runtime: Runtime) -> dict[str, list[int]]:
    """Surveys in every state on every channel, so generated ids and addresses name real ones."""
    seeded: dict[str, list[int]] = {}
    for channel, customers in [*CUSTOMERS.items(), ("memory@beta", CUSTOMERS["memory"][:2])]:
        name, profile = (channel.split("@")[0], OTHER) if "@" in channel else (channel, PROFILE)
        for i, ((conv, user, thread), score) in enumerate(zip(customers, SCORES, strict=False)):
            address = Address(name, profile, conv, user, thread)
            out = await runtime.service.handle(ConversationClosed(address, agent=f"agent{i}", team="t"))
            assert out.survey is not None and out.survey.id is not None
            seeded.setdefault(channel, []).append(out.survey.id)
            if score is not None:
                await runtime.service.handle(ScoreGiven(address, score))
                if i >= 2:
                    await runtime.service.handle(TextReceived(address, f"comment {i}"))
    return seeded


class Portal:
    """An event loop on a thread of its own: the app serves there while hypothesis runs examples from sync code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class FuzzApp:
    def __init__(self, backend: str, database_url: str) -> None:
        self.backend = backend
        self.database_url = database_url
        self.portal = Portal()
        self.seeded: dict[str, list[int]] = {}
        self.cookie: str | None = None
        self.statuses: Counter[str] = Counter()  # printed at the end (pytest -s): how far requests got

    def start(self) -> FuzzApp:
        self.portal.run(self._start())
        return self

    async def _start(self) -> None:
        self.telegram = await FakeTelegram().start()
        self.slack = await FakeSlack().start()
        cfg = app_config(self.database_url, self.telegram, self.slack)
        self.runtime = Runtime(parse_config(cfg, env={}), clock=FakeClock())
        await self.runtime.store.migrate()
        if self.backend == "postgres":  # the run's database is shared by every PostgreSQL test: start empty
            async with self.runtime.store.transaction() as conn:
                await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY"))
        self.seeded = await _seed(self.runtime)
        self.server = TestServer(create_app(self.runtime), host="127.0.0.1")
        await self.server.start_server()
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        signed_in = await self._send("POST", "/report/login", "", f"token={ADMIN_TOKEN}".encode(), FORM)
        morsel = SimpleCookie(signed_in.headers.get("Set-Cookie", "")).get(SESSION_COOKIE)
        self.cookie = f"{SESSION_COOKIE}={morsel.value}" if morsel else None  # a dashboard session, as a browser has

    def auth(self, choice: int) -> dict[str, str]:
        """Headers that authenticate a request: the admin token, acme's own token, or the browser session (with
        the Origin a browser sends, so a POST gets past the forgery check)."""
        if choice == 2 and self.cookie:
            return {"Cookie": self.cookie, "Origin": str(self.server.make_url("")).rstrip("/")}
        return {"Authorization": f"Bearer {PROFILE_TOKEN if choice == 1 else ADMIN_TOKEN}"}

    def close(self) -> None:
        """Whatever `start` got to, stopped (a start that failed half-way leaves nothing running)."""

        async def stop() -> None:
            for name in ("session", "server", "telegram", "slack"):
                part = getattr(self, name, None)
                if part is not None:
                    await part.close()
            runtime = getattr(self, "runtime", None)
            if runtime is not None and not hasattr(self, "server"):
                await runtime.store.dispose()

        try:
            self.portal.run(stop())
        finally:
            self.portal.close()

    def ids(self, channel: str) -> list[int]:
        return self.seeded[channel]

    async def _settle(self) -> None:
        """Wait for the work a Slack 200 queued, so the next snapshot sees it done."""
        for handle in self.runtime.channels:
            idle = getattr(handle, "idle", None)
            if idle is not None:
                await idle()

    async def _state(self) -> tuple[list[Any], dict[str, int]]:
        surveys = SurveyRow.__table__
        async with self.runtime.store.read() as conn:
            rows = [tuple(r) for r in await conn.execute(select(surveys).order_by(surveys.c.id))]
            # The audit log records token use on refused requests too (who tried what): the one table a 4xx adds to.
            counts = {
                t: (await conn.execute(select(func.count()).select_from(text(t)))).scalar_one()
                for t in TABLES
                if t != "audit_log"
            }
        return rows, counts

    async def _send(self, method: str, path: str, query: str, body: bytes | None, headers: dict[str, str]) -> Reply:
        url = yarl.URL(str(self.server.make_url(path)) + (f"?{query}" if query else ""), encoded=True)
        async with self.session.request(method, url, data=body, headers=headers, allow_redirects=False) as resp:
            return Reply(resp.status, await resp.read(), dict(resp.headers))

    def exchange(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        query: str = "",
    ) -> Reply:
        """One request. Never a 5xx; a 4xx leaves every survey as it was and stores nothing; what was accepted
        into the inbound journal (a Slack 200) is processed without an error."""
        self.portal.run(self._settle())
        before = self.portal.run(self._state())
        reply = self.portal.run(self._send(method, path, query, body, headers or {}))
        self.statuses[f"{method} {_route(path)} {reply.status}"] += 1
        what = f"{method} {path}?{query[:300]} body={(body or b'')[:600]!r}"
        assert reply.status < 500, f"{reply.status} {reply.body[:300]!r} for {what}"
        self.portal.run(self._settle())
        after = self.portal.run(self._state())
        if 400 <= reply.status < 500:
            assert after[1] == before[1], f"a refused request ({reply.status}) stored rows: {what}"
            changed = [a for a, b in zip(after[0], before[0], strict=False) if a != b]
            assert after[0] == before[0], f"a refused request ({reply.status}) changed surveys {changed}: {what}"
        elif after[1]["inbound_journal"] > before[1]["inbound_journal"]:
            error = self.portal.run(self._journal_error())
            raise AssertionError(f"an acknowledged request failed when processed ({error}): {what}")
        return reply

    async def _journal_error(self) -> str | None:
        journal = InboundJournalRow.__table__
        async with self.runtime.store.read() as conn:
            query = select(journal.c.last_error).order_by(journal.c.id.desc()).limit(1)
            return (await conn.execute(query)).scalar_one_or_none()

    def healthy(self) -> bool:
        return self.portal.run(self._send("GET", "/healthz", "", None, {})).status == 200


def _route(path: str) -> str:
    """The path as a route: ids and names in it shown as {}."""
    known = ("", "v1")
    parts = path.split("/")[:6]
    return "/".join(p if p in known or (p.isascii() and p.replace("-", "").replace(".", "").isalpha()) else "{}"
                    for p in parts)  # fmt: skip


def open_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzApp]:
    """Module-fixture body: `app = pytest.fixture(scope="module", params=BACKENDS)(open_app)`."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    app = FuzzApp(request.param, url)
    try:
        yield app.start()
        assert app.healthy(), "the server stopped serving"
        print(f"\nfuzz {request.param}:", ", ".join(f"{k}: {n}" for k, n in sorted(app.statuses.items())))
    finally:
        app.close()


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
