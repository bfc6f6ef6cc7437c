"""The app serving two profiles (`acme`, `tapas`) on Messenger or Instagram against the fake Graph API, with Meta's
documented webhook payloads (tests/payloads/meta/messenger_*.json, instagram_*.json) filled in with this test's ids;
shared by the tests/test_messenger_*.py and tests/test_instagram_*.py modules."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, text

from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.graph_api import FakeGraph, Sent
from bots.sandbox.meta_customers import signed
from core.store.tables import ContactRow, OutboxRow, SurveyRow
from tests.conftest import TABLES, FakeClock

PAYLOADS = Path(__file__).parent / "payloads" / "meta"
APP_SECRET = "meta-app-secret-0123456789abcdef"
VERIFY = "verify-me-0123456789"
ADMIN = "admin-token-for-messaging-tests"
ACCESS = {"acme": "EAAG-acme-page-token-0123", "tapas": "EAAG-tapas-page-token-0123"}
PAGE = {"acme": "106112865011426", "tapas": "106112865011427"}  # Facebook Page ids
IG = {"acme": "17841405822304914", "tapas": "17841405822304915"}  # Instagram professional account ids
JANE, BOB = "1254477777772919", "1254477777772920"  # the customers' scoped ids (PSID / IGSID)
FAST = {"rate_per_second": 1000, "per_recipient_per_second": 1000}
SURVEYS, OUTBOX, CONTACTS = SurveyRow.__table__, OutboxRow.__table__, ContactRow.__table__
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
REASK = "Sorry, I didn't catch that"  # how the re-ask of the question starts


def account(kind: str, profile: str) -> str:
    """The id webhook entries carry for the profile: its Page (Messenger) or Instagram account."""
    return PAGE[profile] if kind == "messenger" else IG[profile]


def channel_config(kind: str, profile: str, fake: FakeGraph, **extra: Any) -> dict[str, Any]:
    common = {"app_secret": APP_SECRET, "verify_token": VERIFY, "access_token": ACCESS[profile], "api_base": fake.base}
    ids = {"page_id": PAGE[profile]} if kind == "messenger" else {"account_id": IG[profile]}
    return {**common, **ids, **FAST, **extra}


def config(kind: str, url: str, fake: FakeGraph, **extra: Any) -> dict[str, Any]:
    """`extra` goes into acme's channel settings (message_tag, rates, login)."""
    return {
        "database_url": url,
        "admin_tokens": [ADMIN],
        "profiles": {
            "acme": {
                "brand": "Acme",
                "locale": "en",
                "policy": {"throttle": "0s"},
                "channels": {kind: channel_config(kind, "acme", fake, **extra)},
            },
            "tapas": {
                "brand": "Tapas",
                "locale": "es",
                "policy": {"throttle": "0s"},
                "channels": {kind: channel_config(kind, "tapas", fake)},
            },
        },
    }


def _fill(value: Any, subs: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return subs.get(value, value)
    if isinstance(value, dict):
        return {k: _fill(v, subs) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, subs) for v in value]
    return value


def doc(name: str, subs: dict[str, Any] | None = None) -> dict[str, Any]:
    """A payload file as Meta documents it, each placeholder (a whole string value) replaced from `subs`."""
    return _fill(json.loads((PAYLOADS / name).read_text(encoding="utf-8")), subs or {})


def millis(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def events(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for entry in body["entry"] for e in entry.get("messaging", [])]


def stamped(body: dict[str, Any], when: datetime) -> dict[str, Any]:
    """The body with its entries' and events' times set to `when` (Meta's examples are from 2016-2019)."""
    body = copy.deepcopy(body)
    for entry in body["entry"]:
        entry["time"] = millis(when)
        for event in entry.get("messaging", []):
            event["timestamp"] = millis(when)
    return body


def fail(app: App, name: str, **more: Any) -> None:
    """The fake answers the next send with the error envelope `name` of {kind}_errors.json, as Meta documents it."""
    documented = doc(f"{app.kind}_errors.json")[name]
    error = documented["error"]
    app.fake.fail(
        error["code"],
        status=documented["status"],
        subcode=error.get("error_subcode"),
        type=error["type"],
        message=error["message"],
        **more,
    )


@dataclass
class App:
    kind: str  # messenger | instagram
    client: TestClient
    runtime: Runtime
    fake: FakeGraph
    clock: FakeClock
    mids: int = field(default=0)

    @property
    def store(self) -> Any:
        return self.runtime.store

    def channel(self, profile: str = "acme") -> Any:
        return self.runtime.channel(self.kind, profile)

    def subs(self, customer: str = JANE, profile: str = "acme", **more: Any) -> dict[str, Any]:
        acct = account(self.kind, profile)
        ids = {"<PSID>": customer, "<PAGE_ID>": acct, "IGSID": customer, "IGID": acct, "<IGSID>": customer}
        return {**ids, "<IGID>": acct, **more}

    def next_mid(self) -> str:
        self.mids += 1
        return f"m_customer_{self.mids:06d}"

    def message(self, text: str | None, customer: str = JANE, profile: str = "acme", **fields: Any) -> dict:
        """A customer's message event as the `messages` webhook documents it, with a fresh mid and the clock's time;
        `fields` add to (or, as None, remove from) the message object."""
        name = f"{self.kind}_text.json"
        body = stamped(doc(name, self.subs(customer, profile)), self.clock())
        message = events(body)[0]["message"]
        message["mid"] = self.next_mid()
        message["text"] = text
        for key, value in fields.items():
            message[key] = value
        body["entry"][0]["messaging"][0]["message"] = {k: v for k, v in message.items() if v is not None}
        return body

    async def write(self, text: str, customer: str = JANE, profile: str = "acme") -> int:
        return await self.post(self.message(text, customer, profile), profile)

    def question(self, customer: str = JANE) -> Sent:
        """The last message sent to the customer offering quick replies."""
        return next(
            s for s in reversed(self.fake.of(to=customer)) if (s.json.get("message") or {}).get("quick_replies")
        )

    def replies(self, customer: str = JANE) -> list[dict[str, str]]:
        return list(self.question(customer).json["message"]["quick_replies"])

    async def tap(self, score: int, customer: str = JANE, profile: str = "acme", payload: str | None = None) -> int:
        """Tap the quick reply for `score` on the last question (Meta sends its title as text and its payload), or
        send `payload` as if a reply carried it."""
        reply = self.replies(customer)[score] if payload is None else {"title": str(score), "payload": payload}
        body = self.message(reply["title"], customer, profile, quick_reply={"payload": reply["payload"]})
        return await self.post(body, profile)

    async def close(self, customer: str = JANE, profile: str = "acme", **fields: Any) -> int | None:
        """The operator API closes the conversation (these platforms have no "closed" event); the question goes
        out. The survey's id."""
        body = {"profile": profile, "channel": self.kind, "conversation_id": customer, "user_id": customer, **fields}
        headers = {"Authorization": f"Bearer {ADMIN}"}
        resp = await self.client.post("/api/v1/conversations/close", json=body, headers=headers)
        assert resp.status == 200, await resp.text()
        out = await resp.json()
        await self.drain()
        return int(out["survey"]["id"]) if out.get("survey") else None

    async def asked(self, customer: str = JANE, profile: str = "acme") -> int:
        """A survey whose question went out: the customer wrote, then the conversation was closed. Its id."""
        await self.write("hello", customer, profile)
        survey_id = await self.close(customer, profile)
        assert survey_id is not None
        return survey_id

    async def drain(self) -> None:
        await self.runtime.worker.drain()

    async def post(self, payload: dict[str, Any] | bytes, profile: str = "acme") -> int:
        """A signed webhook POST, then the work it was answered for and the sends that work queued."""
        body, headers = signed(APP_SECRET, payload)
        status = await self.post_raw(body, headers, profile)
        await self.drain()
        return status

    async def post_raw(self, body: bytes, headers: dict[str, str], profile: str = "acme") -> int:
        resp = await self.client.post(f"/{self.kind}/{profile}/webhook", data=body, headers=headers)
        await resp.read()
        await self.channel(profile).webhook.idle()
        return resp.status

    async def rows(self, table: Any) -> list[Any]:
        async with self.store.read() as conn:
            return list(await conn.execute(select(table)))

    async def survey(self, survey_id: int) -> Any:
        async with self.store.read() as conn:
            return (await conn.execute(select(SURVEYS).where(SURVEYS.c.id == survey_id))).one()

    async def dead(self) -> list[Any]:
        async with self.store.read() as conn:
            return list(await conn.execute(select(OUTBOX).where(OUTBOX.c.status == "dead").order_by(OUTBOX.c.id)))


@asynccontextmanager
async def serve(
    kind: str, backend: str, request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock, **extra: Any
) -> AsyncIterator[App]:
    """The app on SQLite or PostgreSQL (the run's shared database, emptied first) with a fresh FakeGraph."""
    fake = await FakeGraph().start()
    url = f"sqlite:///{tmp_path / 'messaging.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    if backend == "sqlite":  # a copy of the run's migrated file, as the store fixture starts from
        shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "messaging.db")
    runtime = Runtime(parse_config(config(kind, url, fake, **extra), env={}), clock=clock)
    if backend == "postgres":  # migrated once per run by pg_url
        async with runtime.store.transaction() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    try:
        async with TestClient(TestServer(create_app(runtime))) as client:
            yield App(kind, client, runtime, fake, clock)
    finally:
        await fake.close()
