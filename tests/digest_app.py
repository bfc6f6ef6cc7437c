"""A running npsbot whose `shop` profile sends its weekly digest to Slack, Telegram, a webhook and an email
address, each on the wire: the sandbox's fake Slack and Telegram APIs, a webhook receiver and a local SMTP server
(aiosmtpd) the tests start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.bridge import FakeBridge
from bots.sandbox.slack_api import FakeSlack
from bots.sandbox.telegram_api import FakeTelegram
from core.channel import send
from core.store import Store
from core.store.outbox import OutboxItem
from core.store.tables import OutboxRow
from tests.digest_world import CURRENT, PREVIOUS, UNTIL, respond

WHSEC = "whsec_" + "c2VjcmV0LWZvci1kaWdlc3RzLTEyMzQ="
LEADS, CHAT, MAILBOX = "CLEADS", -100777, "leads@example.com"
TOKEN = "123456:TEST-token_abc"


@dataclass
class Mailbox:
    """aiosmtpd's handler: keeps each message; `refuse` answers RCPT with that SMTP reply instead."""

    messages: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    refuse: str | None = None

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.append((envelope, message_from_bytes(content, policy=policy.default)))  # type: ignore[arg-type]
        return "250 Message accepted"


@asynccontextmanager
async def smtp_server() -> AsyncIterator[tuple[Mailbox, int]]:
    box = Mailbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(box, hostname="localhost"), "127.0.0.1", 0)
    try:
        yield box, server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@dataclass
class World:
    runtime: Runtime
    slack: FakeSlack
    telegram: FakeTelegram
    receiver: FakeBridge
    mailbox: Mailbox


def config(slack: FakeSlack, telegram: FakeTelegram, receiver: FakeBridge, smtp_port: int, **digest: Any) -> dict:
    targets = [
        {"channel": "slack", "destination": LEADS},
        {"channel": "telegram", "destination": str(CHAT)},
        {"channel": "webhook", "destination": receiver.url("/digest")},
        {"channel": "email", "destination": MAILBOX},
    ]
    return {
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none", "from_address": "npsbot@example.com"},
        "profiles": {
            "shop": {
                "brand": "Shop",
                "locale": "es",
                "policy": {"throttle": "0s"},
                "benchmark": 10,
                "channels": {
                    "memory": {},
                    "slack": {"bot_token": "xoxb-test-token", "signing_secret": "s" * 32, "api_base": slack.base},
                    "telegram": {"token": TOKEN, "secret_token": "s3cret", "api_base": telegram.base},
                    "webhook": {"secrets": [WHSEC]},
                },
                "digest": {"schedule": "0 0 * * MON", "targets": targets, "min_responses": 1} | digest,
            }
        },
    }


@asynccontextmanager
async def digest_world(store: Store, clock: Any, **digest: Any) -> AsyncIterator[World]:
    slack, telegram, receiver = await FakeSlack().start(), await FakeTelegram().start(), await FakeBridge().start()
    try:
        async with smtp_server() as (mailbox, port):
            parsed = parse_config(config(slack, telegram, receiver, port, **digest), env={})
            runtime = Runtime(parsed, store=store, clock=clock)
            yield World(runtime, slack, telegram, receiver, mailbox)
            await runtime.starts.stop()
            for channel in runtime.channels:
                await channel.stop()
            await runtime.events.stop()
    finally:
        for fake in (slack, telegram, receiver):
            await fake.close()


async def seed_weeks(world: World, clock: Any) -> None:
    """Two responses each week (previous: 10 and 3; this one: 10 and 9), through the running service."""
    from adapters.memory import MemoryChannel

    chat = MemoryChannel(world.runtime.service, "shop")
    for label, at, score in (("p1", PREVIOUS, 10), ("p2", PREVIOUS, 3), ("c1", CURRENT, 10), ("c2", CURRENT, 9)):
        clock.now = at
        await respond(chat, label, "red", "ana", score)
    clock.now = UNTIL - (UNTIL - CURRENT) / 2  # the job is first seen before the occurrence it then serves


async def send_queued(world: World) -> list[str | None]:
    """Hand each queued digest row to its channel as the worker does (decode, then the method for its kind): what
    each send returned."""
    refs = []
    for row in await digest_rows(world.runtime.store):
        item = OutboxItem(row.id, row.profile, row.channel, row.kind, None, row.target, row.payload, 1, row.created_at)
        delivery, action = item.decode()
        refs.append(await send(world.runtime.senders[(row.channel, row.profile)], delivery, action))
    return refs


async def digest_rows(store: Store) -> list[Any]:
    OB = OutboxRow.__table__
    async with store.read() as conn:
        return list(await conn.execute(select(OB).where(OB.c.kind == "digest").order_by(OB.c.id)))
