"""The app serving two profiles on WhatsApp (`acme` and `tapas`, each its own business number) against the fake
Graph API, Meta's documented webhook payloads (tests/payloads/meta/whatsapp_*.json) and the calls the WhatsApp
tests make; shared by the tests/test_whatsapp_*.py modules."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.customers import Person
from bots.sandbox.graph_api import FakeGraph, Sent
from bots.sandbox.meta_customers import MetaCustomers, signed
from core.store import Store
from core.store.tables import ContactRow, OutboxRow, SurveyRow

PAYLOADS = Path(__file__).parent / "payloads" / "meta"
APP_SECRET = "wa-app-secret-0123456789abcdef"
VERIFY = "verify-me-0123456789"
ACCESS = {"acme": "EAAG-acme-access-token-0123", "tapas": "EAAG-tapas-access-token-0123"}
NUMBER = {"acme": "106540352242922", "tapas": "106540352242923"}  # Meta's example phone-number id, and one more
ADMIN = "admin-token-for-whatsapp-tests"
FAST = {"rate_per_second": 1000, "per_customer_per_minute": 6000}
JANE = Person("16505551234", "Jane Doe")
_mids = itertools.count(1)
S, OB, C = SurveyRow.__table__, OutboxRow.__table__, ContactRow.__table__


def whatsapp(profile: str, fake: FakeGraph, **extra: Any) -> dict[str, Any]:
    return {
        "app_secret": APP_SECRET,
        "verify_token": VERIFY,
        "access_token": ACCESS[profile],
        "phone_number_id": NUMBER[profile],
        "api_base": fake.base,
        **FAST,
        **extra,
    }


def config(url: str, fake: FakeGraph, **extra: Any) -> dict[str, Any]:
    """`extra` is added to acme's whatsapp settings (templates, labels, rates)."""
    return {
        "database_url": url,
        "admin_tokens": [ADMIN],
        "profiles": {
            "acme": {
                "brand": "Acme",
                "locale": "en",
                "policy": {"throttle": "0s"},
                "channels": {"whatsapp": whatsapp("acme", fake, **extra)},
            },
            "tapas": {
                "brand": "Tapas",
                "locale": "es",
                "policy": {"throttle": "0s"},
                "channels": {"whatsapp": whatsapp("tapas", fake)},
            },
        },
    }


@dataclass
class App:
    client: TestClient
    runtime: Runtime
    fake: FakeGraph
    store: Store

    def channel(self, profile: str = "acme") -> Any:
        return self.runtime.channel("whatsapp", profile)

    def customers(self, profile: str = "acme") -> MetaCustomers:
        base = str(self.client.make_url("/")).rstrip("/")
        channel = self.channel(profile)
        return MetaCustomers(
            self.client.session, base, "whatsapp", profile, APP_SECRET, self.fake, NUMBER[profile], channel.idle
        )

    async def close(self, user: str = JANE.key, profile: str = "acme", **fields: Any) -> int:
        """The operator API closes the conversation (there is no "closed" event on WhatsApp) and the question is sent;
        returns the survey's id."""
        body = {"profile": profile, "channel": "whatsapp", "conversation_id": user, "user_id": user, **fields}
        resp = await self.client.post(
            "/api/v1/conversations/close", json=body, headers={"Authorization": f"Bearer {ADMIN}"}
        )
        assert resp.status == 200, await resp.text()
        out = await resp.json()
        await self.drain()
        return int(out["survey"]["id"])

    async def drain(self) -> None:
        await self.runtime.worker.drain()

    async def post(self, payload: dict[str, Any] | bytes, profile: str = "acme") -> int:
        """A signed webhook POST, then the work it was answered for."""
        body, headers = signed(APP_SECRET, payload)
        resp = await self.client.post(f"/whatsapp/{profile}/webhook", data=body, headers=headers)
        await resp.read()
        await self.channel(profile).idle()
        await self.drain()
        return resp.status

    async def surveys(self) -> list[Any]:
        async with self.store.read() as conn:
            return list(await conn.execute(select(S).order_by(S.c.id)))

    async def survey(self, survey_id: int) -> Any:
        async with self.store.read() as conn:
            return (await conn.execute(select(S).where(S.c.id == survey_id))).one()

    async def outbox(self) -> list[Any]:
        async with self.store.read() as conn:
            return list(await conn.execute(select(OB).order_by(OB.c.id)))

    async def contact(self, user: str, profile: str = "acme") -> Any:
        async with self.store.read() as conn:
            q = select(C).where(C.c.profile == profile, C.c.channel == "whatsapp", C.c.user_id == user)
            return (await conn.execute(q)).one_or_none()

    def to(self, user: str = JANE.key) -> list[Sent]:
        return self.fake.of(to=user)


@asynccontextmanager
async def serve(store: Store, fake: FakeGraph, clock: Any, **extra: Any) -> AsyncIterator[App]:
    runtime = Runtime(parse_config(config(store.url, fake, **extra), env={}), store=store, clock=clock)
    async with TestClient(TestServer(create_app(runtime))) as client:
        yield App(client, runtime, fake, store)


def example(name: str) -> dict[str, Any]:
    """One of Meta's documented webhook bodies or request bodies, as stored under tests/payloads/meta."""
    data: dict[str, Any] = json.loads((PAYLOADS / f"whatsapp_{name}.json").read_text())
    return data


def inbound(
    name: str, *, user: str = JANE.key, number: str = NUMBER["acme"], mid: str | None = None, **content: Any
) -> dict[str, Any]:
    """Meta's example webhook `name` addressed to us: our business number, `user` as the customer, `mid` as the
    message id (a fresh one by default: Meta's examples share theirs), and each of `content` replacing that key of
    the message (e.g. `interactive={...}`), or of its `context` (`context=wamid`), or the message's timestamp
    (`at=datetime`)."""
    body = copy.deepcopy(example(name))
    value = body["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = number
    for contact in value.get("contacts", []):
        contact["wa_id"] = user
    for message in value.get("messages", []):
        message["from"] = user
        message["id"] = mid or f"wamid.TEST{next(_mids):08d}"
        for key, new in content.items():
            if key == "context":
                message["context"]["id"] = new
            elif key == "at":
                message["timestamp"] = str(int(new.timestamp()))
            else:
                message[key] = new
    for status in value.get("statuses", []):
        status["recipient_id"] = user
        if mid is not None:
            status["id"] = mid
        if "at" in content:
            status["timestamp"] = str(int(content["at"].timestamp()))
    return body


def ts(when: datetime) -> str:
    return str(int(when.timestamp()))


def rows_of(sent: Sent) -> list[dict[str, str]]:
    """The rows of a list message we sent."""
    return [row for section in sent.json["interactive"]["action"]["sections"] for row in section["rows"]]


def pick(sent: Sent, title: str) -> dict[str, Any]:
    """The list reply a customer sends by picking the row titled `title` of our list message `sent`."""
    row = next(r for r in rows_of(sent) if r["title"] == title)
    return {"type": "list_reply", "list_reply": {"id": row["id"], "title": row["title"]}}


def buttons_of(sent: Sent) -> list[dict[str, str]]:
    return [b["reply"] for b in sent.json["interactive"]["action"]["buttons"]]
