"""`npsbot demo`: the whole loop on the embedded default — SQLite, no tokens, no network beyond 127.0.0.1.

The real app (aiohttp, with the real Telegram, Slack and webhook adapters) and the delivery worker run against
local stand-ins for the Telegram Bot API, the Slack Web API and a chat bridge (bots.sandbox). Simulated customers
answer through signed, platform-shaped requests; a simulated clock moves time for expiries and comment windows.
"""

from __future__ import annotations

import logging
import random
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from aiohttp import ClientSession
from rich.console import Console

from bots import demo_programme, demo_routing
from bots.app import serve_on_loopback
from bots.config import parse_config
from bots.demo_meta import API_TOKEN, MetaDemoCustomers, meta_channels
from bots.demo_report import print_alerts, print_report, print_themes, print_transcript
from bots.demo_story import AGENTS, COMMENTS, OPENINGS, THEMES, Plan, make_plans, meta_plans, shown
from bots.runtime import Runtime
from bots.sandbox.bridge import FakeBridge
from bots.sandbox.customers import BridgeCustomers, Driver, SlackCustomers, TelegramCustomers
from bots.sandbox.graph_api import FakeGraph
from bots.sandbox.slack_api import FakeSlack
from bots.sandbox.telegram_api import FakeTelegram
from core.reports import breakdown, summary
from core.reports.analytics import trend
from core.reports.themes import theme_figures
from core.scoring import nps_from_scores
from core.service import utcnow
from core.store import outbox

PROFILE = "acme"
TELEGRAM_TOKEN, TELEGRAM_SECRET = "7000001:DEMO-sandbox_token", "demo-secret-token"
SLACK_TOKEN, SLACK_SIGNING = "xoxb-demo-sandbox-token", "demo-signing-secret-0123456789abcdef"
BRIDGE_SECRET = "whsec_ZGVtby1icmlkZ2Utc2VjcmV0LTAxMjM0NTY3ODk="
LEADS = "C0SUPPORTLEADS"  # the support team's Slack channel, where detractor alerts go
DELIVER = "/deliver"


@dataclass
class Clock:
    """The demo's time. Rate-limit waits pass on it too, so a burst of alerts costs no real seconds."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def demo_config(
    database_url: str, telegram: FakeTelegram, slack: FakeSlack, bridge: FakeBridge, graph: FakeGraph | None = None
) -> dict[str, Any]:
    """One brand on three channels, each pointed at its local stand-in; with `graph`, WhatsApp and Instagram too."""
    channels = {
        "telegram": {"token": TELEGRAM_TOKEN, "secret_token": TELEGRAM_SECRET, "api_base": telegram.base,
                     "agents": [int(a.key) for a in AGENTS["telegram"]]},
        "slack": {"bot_token": SLACK_TOKEN, "signing_secret": SLACK_SIGNING, "api_base": slack.base,
                  "agents": [str(a.key) for a in AGENTS["slack"]]},
        "webhook": {"secrets": [BRIDGE_SECRET], "deliver_url": bridge.url(DELIVER)},
        **(meta_channels(graph) if graph else {}),
    }  # fmt: skip
    profile = {
        "brand": "Acme Cloud",
        "locale": "en",
        "channels": channels,
        "alerts": [{"channel": "slack", "destination": LEADS}],
        "policy": {"expiry": "24h", "comment_window": "1h", "throttle": "0s"},
        "rules": demo_routing.RULES,  # the follow-up SLA, and billing complaints made urgent
        "themes": THEMES,
        **({"api_tokens": [API_TOKEN]} if graph else {}),  # the help desk closes WhatsApp / Instagram chats
    }
    return {"database_url": database_url, "server": {"host": "127.0.0.1"}, "profiles": {PROFILE: profile}}


async def settle(runtime: Runtime, clock: Clock) -> None:
    """Deliver everything due. A message a rate limit put off goes out when the simulated clock reaches it."""
    for _ in range(200):
        await runtime.worker.drain()
        async with runtime.store.read() as conn:
            due = await outbox.next_due(conn)
        if due is None:
            return
        clock.now = max(clock.now, due)


NOISY = ("alembic", "aiohttp.access", "aiogram", "slack_bolt", "slack_sdk", "core.transitions", "core.escalation")


@contextmanager
def quiet_logs() -> Iterator[None]:
    """Migration, access and per-update logs would bury the story; `npsbot -v demo` keeps them."""
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        yield
        return
    saved = {name: logging.getLogger(name).level for name in NOISY}
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


async def run_demo(conversations: int = 42, seed: int = 7, database_url: str | None = None) -> dict[str, Any]:
    console = Console()
    rng = random.Random(seed)
    plans = make_plans(conversations, rng)
    plans += meta_plans(len(plans), rng)
    with quiet_logs():
        async with AsyncExitStack() as stack:
            if database_url is None:
                workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="npsbot-demo-"))
                database_url = f"sqlite+aiosqlite:///{workdir}/demo.db"
            telegram, slack, bridge, graph = FakeTelegram(), FakeSlack(), FakeBridge(), FakeGraph()
            for fake in (telegram, slack, bridge, graph):
                await fake.start()
                stack.push_async_callback(fake.close)
            clock = Clock(utcnow() - timedelta(weeks=demo_routing.WEEKS))  # spread over the last twelve weeks
            start = clock.now
            cfg = parse_config(demo_config(database_url, telegram, slack, bridge, graph), env={})
            runtime = Runtime(cfg, clock=clock)
            runtime.worker.sleep = clock.sleep
            stack.push_async_callback(runtime.store.dispose)
            await runtime.store.migrate()
            runner, app_url = await serve_on_loopback(runtime, stack)
            http = await stack.enter_async_context(ClientSession())
            slack_channel: Any = runtime.channel("slack", PROFILE)
            drivers: dict[str, Driver] = {
                "telegram": TelegramCustomers(
                    http, app_url, PROFILE, TELEGRAM_SECRET, telegram, int(TELEGRAM_TOKEN.split(":")[0])
                ),
                "slack": SlackCustomers(http, app_url, PROFILE, SLACK_SIGNING, slack, slack_channel.idle),
                "webhook": BridgeCustomers(http, app_url, PROFILE, BRIDGE_SECRET, bridge, DELIVER),
            }
            for name in ("whatsapp", "instagram"):
                meta_channel: Any = runtime.channel(name, PROFILE)
                meta = MetaDemoCustomers(
                    http, app_url, name, PROFILE, graph, meta_channel.idle, partial(settle, runtime, clock), clock
                )
                meta.late = {p.conversation for p in plans if p.channel == name and p.behaviour == "late"}
                drivers[name] = meta
            console.print(
                f"Simulating {len(plans)} support conversations in {len({p.locale for p in plans})} languages "
                "through the real Telegram, Slack, webhook, WhatsApp and Instagram adapters, against local stand-ins "
                "for each platform "
                f"(bots/sandbox), on {'SQLite' if runtime.store.is_sqlite else 'PostgreSQL'}: customers tap buttons, "
                "type scores (words, digits, keycaps, full-width), send junk first, opt out, or never answer."
            )
            missed = demo_routing.slipped(demo_routing.weeks_of(plans))
            slack_customers: Any = drivers["slack"]
            leads = demo_routing.Leads(
                slack_customers, slack, runtime.store, LEADS, None if missed is None else missed.conversation
            )
            await _play(plans, drivers, runtime, clock, leads)
            total = await summary(runtime.store)
            by_agent = await breakdown(runtime.store, "agent")
            by_channel = await breakdown(runtime.store, "channel")
            by_theme = await theme_figures(runtime.store, themes=list(THEMES))
            escalations = demo_routing.posted(slack, demo_routing.HEAD)
            sla = await demo_routing.sla_figures(runtime.store, clock.now)
            weekly = await trend(runtime.store, bucket="week")
            story = await demo_routing.story(runtime.store, start, "Dmitri")
            transcripts = {p.conversation: drivers[p.channel].transcript(p.conversation) for p in shown(plans)}
            alerts = [c for c in slack.of("chat.postMessage") if c.params.get("channel") == LEADS]
            fakes = (telegram, slack, bridge, graph)
            ports = [runner.addresses[0][1]] + [fake.server.port for fake in fakes if fake.server]
            calls = {
                "telegram": Counter(c.method for c in telegram.calls),
                "slack": Counter(c.method for c in slack.calls),
                "bridge": Counter(r.json.get("type") for r in bridge.at(DELIVER)),
                "graph": Counter(f"{s.node}:{s.json.get('type', 'message')}" for s in graph.sent),
            }
            programme = await demo_programme.run_programme(
                stack, database_url, (telegram, slack, bridge), clock, http, partial(settle, clock=clock), rng
            )

    for plan in shown(plans):
        print_transcript(console, plan, transcripts[plan.conversation])
    answered = [p for p in plans if p.score is not None]
    expected_alerts = sum(1 for p in answered if (p.score or 0) <= 6)
    print_alerts(console, alerts, LEADS, expected_alerts)
    print_report(console, total, {"agent": by_agent, "channel": by_channel})
    print_themes(console, by_theme)
    demo_routing.print_story(console, story, "Dmitri", weekly)
    demo_routing.print_escalations(console, escalations, sla)

    # The check: what the database reports must be what the simulated customers meant to give.
    def expected_by(key: str) -> dict[str, Any]:
        groups: dict[str, list[int]] = {}
        for p in plans:  # an agent or channel whose customers were all asked but none answered is a row too
            scores = groups.setdefault(p.agent_key if key == "agent" else p.channel, [])
            if p.score is not None:
                scores.append(p.score)
        return {k: nps_from_scores(v) for k, v in groups.items()}

    expected = nps_from_scores([p.score for p in answered])  # type: ignore[misc]
    reported_by_agent = {str(k): s.result for k, s in by_agent}
    reported_by_channel = {str(k): s.result for k, s in by_channel}
    ok_total = total.result == expected
    ok_agents = reported_by_agent == expected_by("agent")
    ok_channels = reported_by_channel == expected_by("channel")
    ok_alerts = len(alerts) == expected_alerts
    matcher = runtime.profiles[PROFILE].themes
    commented = [(p, p.steps[-1]) for p in answered if p.steps and p.steps[-1] in COMMENTS[p.locale]]
    expected_themes = {t: sum(t in matcher.match(c, p.locale) for p, c in commented) for t in THEMES}
    reported_themes = {f.theme: f.mentions.responses for f in by_theme}
    ok_themes = reported_themes == expected_themes
    console.print(
        f"check: NPS from the database {total.result.format()} "
        f"{'matches' if ok_total else 'DOES NOT MATCH'} the simulated customers' scores {expected.format()}; "
        f"by agent {'matches' if ok_agents else 'DOES NOT MATCH'} too; "
        f"by channel {'matches' if ok_channels else 'DOES NOT MATCH'} too; "
        f"theme mentions {'match' if ok_themes else 'DO NOT MATCH'} the comments they wrote"
    )
    # Twelve weeks: a trend point per week with conversations, each period's NPS (and Dmitri's) the customers' own;
    # exactly one escalation, for the one alert the leads missed.
    weeks_asked = len({p.week for p in plans})  # every plan's question is asked in its week
    ok_story = len(weekly) == weeks_asked and [(r["nps"], r["agent"]) for r in story] == (
        demo_routing.expected_story(plans, "Dmitri")
    )
    expected_escalations = 0 if missed is None else 1
    ok_sla = len(escalations) == sla["escalations"] == sla["claim_breaches"] == expected_escalations
    console.print(
        f"check: {len(weekly)} weekly trend points for the {weeks_asked} weeks with conversations, and every four "
        f"weeks' NPS {'match' if ok_story else 'DO NOT MATCH'} the customers' scores; {len(escalations)} escalation "
        f"{'as expected' if ok_sla else f'BUT {expected_escalations} EXPECTED'} for the alert the leads missed"
    )
    ok_programme = demo_programme.print_programme(console, programme, expected)
    return {
        "summary": total,
        "expected": expected,
        "by_agent": reported_by_agent,
        "expected_by_agent": expected_by("agent"),
        "by_channel": reported_by_channel,
        "expected_by_channel": expected_by("channel"),
        "alerts": len(alerts),
        "expected_alerts": expected_alerts,
        "calls": calls,
        "ports": ports,  # all closed again by now
        "plans": plans,
        "themes": reported_themes,
        "expected_themes": expected_themes,
        "escalations": len(escalations),
        "sla": sla,
        "weekly": [(period, s.result) for period, s in weekly],
        "ok": all((ok_total, ok_agents, ok_channels, ok_alerts, ok_themes, ok_story, ok_sla, ok_programme)),
    }


async def _play(
    plans: list[Plan],
    drivers: dict[str, Driver],
    runtime: Runtime,
    clock: Clock,
    leads: demo_routing.Leads | None = None,
) -> None:
    """Week by week, oldest first: agents close that week's conversations; customers then act a step at a time, a
    few minutes apart; the support leads claim the new detractor alerts within the hour and resolve them the next
    day; two days on, every comment window has closed and every unanswered question has expired."""
    start = clock.now
    for week, those in enumerate(demo_routing.weeks_of(plans)):
        clock.now = max(clock.now, start + timedelta(weeks=week))
        for plan in those:
            await drivers[plan.channel].close(plan.conversation, plan.customer, plan.agent, OPENINGS[plan.locale])
        await settle(runtime, clock)
        for step in range(max((len(p.steps) for p in those), default=0)):
            clock.now += timedelta(minutes=3)
            for plan in those:
                if step >= len(plan.steps):
                    continue
                action, driver = plan.steps[step], drivers[plan.channel]
                if isinstance(action, int):
                    await driver.tap(plan.conversation, plan.customer, action)
                else:
                    await driver.write(plan.conversation, plan.customer, action)
            await settle(runtime, clock)
        for wait in (timedelta(minutes=20), timedelta(hours=1)):  # comment windows close meanwhile
            clock.now += wait
            await settle(runtime, clock)
            if leads is not None:
                await leads.claim_new()
        clock.now += timedelta(days=1)
        if leads is not None:
            await leads.resolve_claimed()
        clock.now += timedelta(days=1)
        await settle(runtime, clock)
