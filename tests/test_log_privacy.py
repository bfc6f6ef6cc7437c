"""No message text or personal data in logs at INFO and above: surveys driven through the real Telegram, Slack and
webhook adapters at the wire (the sandbox's fakes, signed requests), logging at DEBUG, and every INFO+ record read."""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack

import pytest
from aiohttp import ClientSession, web
from sqlalchemy import select

from bots import demo
from bots.app import create_app
from bots.config import parse_config
from bots.demo import Clock, demo_config, settle
from bots.runtime import Runtime
from bots.sandbox.bridge import FakeBridge
from bots.sandbox.customers import BridgeCustomers, Person, SlackCustomers, TelegramCustomers
from bots.sandbox.slack_api import FakeSlack
from bots.sandbox.telegram_api import FakeTelegram
from core.service import utcnow
from core.store import Store
from core.store.tables import SurveyRow

AGENT_TG, AGENT_SLACK, AGENT_HOOK = Person(101, "Ana"), Person("U0ELENA01", "Elena"), Person("carla", "Carla", "es")
CUSTOMERS = {
    "telegram": ("-1004455667788", Person(9876543210, "Zoë Quintanilla", "es")),
    "slack": ("C0ZQCHAN77", Person("U0YUSUFOK9", "Yusuf Okonkwo-Lind", "fr-FR")),
    "webhook": ("conv-falkenrath-4411", Person("wa:34600111222", "Ingrid Falkenrath", "de")),
}
OPENING = "xylophonic billing trouble with my account"
JUNK = "quixotic maybe tomorrow"
COMMENT = "pterodactyl slow support, write me at zoe.q@example.org or call +34 600 111 222"


def secrets_of_customers() -> list[str]:
    out = [OPENING, "xylophonic", JUNK, "quixotic", "pterodactyl", "zoe.q@example.org", "600 111 222"]
    for conversation, person in CUSTOMERS.values():
        out += [conversation, str(person.key), person.name]
    return out


async def test_no_info_record_holds_customer_text_names_or_ids(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with AsyncExitStack() as stack:
        telegram, slack, bridge = FakeTelegram(), FakeSlack(), FakeBridge()
        for fake in (telegram, slack, bridge):
            await fake.start()
            stack.push_async_callback(fake.close)
        clock = Clock(utcnow())
        cfg = parse_config(demo_config(store.url, telegram, slack, bridge), env={})
        runtime = Runtime(cfg, store=store, clock=clock)
        runtime.worker.sleep = clock.sleep
        runner = web.AppRunner(create_app(runtime), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = "http://{}:{}".format(*runner.addresses[0][:2])
        http = await stack.enter_async_context(ClientSession())
        p = demo.PROFILE
        idle = runtime.channel("slack", p).idle  # type: ignore[attr-defined]
        bot_id = int(demo.TELEGRAM_TOKEN.split(":")[0])
        drivers = {
            "telegram": TelegramCustomers(http, url, p, demo.TELEGRAM_SECRET, telegram, bot_id),
            "slack": SlackCustomers(http, url, p, demo.SLACK_SIGNING, slack, idle),
            "webhook": BridgeCustomers(http, url, p, demo.BRIDGE_SECRET, bridge, demo.DELIVER),
        }
        agents = {"telegram": AGENT_TG, "slack": AGENT_SLACK, "webhook": AGENT_HOOK}
        for name, (conversation, person) in CUSTOMERS.items():
            await drivers[name].close(conversation, person, agents[name], OPENING)
        await settle(runtime, clock)
        for name, (conversation, person) in CUSTOMERS.items():
            await drivers[name].write(conversation, person, JUNK)  # not a score: kept as text, re-asked
        await settle(runtime, clock)
        for name, (conversation, person) in CUSTOMERS.items():
            await drivers[name].tap(conversation, person, 3)  # detractors: the team gets an alert
        await settle(runtime, clock)
        for name, (conversation, person) in CUSTOMERS.items():
            await drivers[name].write(conversation, person, COMMENT)
        await settle(runtime, clock)
        alerts = [c for c in slack.of("chat.postMessage") if c.params.get("channel") == demo.LEADS]
        async with store.read() as conn:
            rows = (await conn.execute(select(SurveyRow.__table__))).all()

    assert sorted((r.channel, r.state, r.score) for r in rows) == [
        ("slack", "completed", 3), ("telegram", "completed", 3), ("webhook", "completed", 3)
    ]  # fmt: skip
    assert len(alerts) == 3 and all("[email]" in str(a.params) and "zoe.q@" not in str(a.params) for a in alerts)
    assert any(r.levelno == logging.DEBUG for r in caplog.records)  # the run did log, below INFO too
    assert any(r.levelno >= logging.INFO for r in caplog.records)
    leaks = []
    for record in caplog.records:
        if record.levelno < logging.INFO:
            continue
        text = record.getMessage() + (logging.Formatter().formatException(record.exc_info) if record.exc_info else "")
        leaks += [(record.name, record.levelname, s, text[:200]) for s in secrets_of_customers() if s in text]
    assert leaks == []
