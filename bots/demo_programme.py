"""The demo's survey programme: a relational campaign over imported contacts, run by the scheduler on the demo's
clock, its questions held through quiet hours to 09:00 in each customer's zone, answered through the real Telegram
and webhook adapters, and the weekly digest posted to the fake Slack with its trend chart. A second profile on the
same database and stand-ins, so the conversations' figures above stay as they were."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import ClientSession
from rich.console import Console

from bots.app import serve_on_loopback
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.bridge import FakeBridge
from bots.sandbox.customers import BridgeCustomers, Driver, Person, TelegramCustomers
from bots.sandbox.slack_api import FakeSlack
from bots.sandbox.telegram_api import FakeTelegram
from core import contact_batches
from core.contacts import ContactChange
from core.quiet_hours import QuietHours
from core.reports.kinds import compare_kinds
from core.reports.summary import Filters
from core.scoring import NpsResult, nps_from_scores
from core.store import surveys as surveys_q
from core.suppression import SuppressionKeys

PROFILE = "programme"
TOKEN, SECRET = "7000002:DEMO-programme_token", "demo-programme-secret"
SLACK_TOKEN, SLACK_SIGNING = "xoxb-demo-programme-token", "demo-programme-signing-0123456789ab"
BRIDGE_SECRET = "whsec_ZGVtby1wcm9ncmFtbWUtc2VjcmV0LTAxMjM0NTY="
DELIVER, LEADS = "/programme", "C0PROGRAMME"
QUIET, QUIET_HOURS = "21:00-09:00", QuietHours(time(21), time(9))
ZONES = ("Europe/Madrid", "America/New_York", "Asia/Tokyo")
CONTACTS = 36


def config(database_url: str, telegram: FakeTelegram, slack: FakeSlack, bridge: FakeBridge) -> dict[str, Any]:
    """A campaign every Monday at 09:00 in Madrid, spread over a day; the digest every Monday morning to Slack."""
    channels = {
        "telegram": {"token": TOKEN, "secret_token": SECRET, "api_base": telegram.base},
        "webhook": {"secrets": [BRIDGE_SECRET], "deliver_url": bridge.url(DELIVER)},
        "slack": {"bot_token": SLACK_TOKEN, "signing_secret": SLACK_SIGNING, "api_base": slack.base},
    }
    campaign = {"name": "relationship", "schedule": "0 9 * * MON", "timezone": "Europe/Madrid",
                "audience": {"attributes": {"plan": "pro"}}, "channels": ["telegram", "webhook"],
                "send_window": "1d"}  # fmt: skip
    digest = {"schedule": "0 9 * * MON", "timezone": "Europe/Madrid", "min_responses": 1,
              "targets": [{"channel": "slack", "destination": LEADS}]}  # fmt: skip
    profile = {
        "brand": "Acme Cloud",
        "locale": "en",
        "channels": channels,
        "policy": {"expiry": "3d", "comment_window": "1h", "throttle": "0s", "quiet_hours": QUIET},
        "campaigns": [campaign],
        "digest": digest,
    }
    return {"database_url": database_url, "server": {"host": "127.0.0.1"}, "profiles": {PROFILE: profile}}


def people(rng: random.Random) -> list[tuple[ContactChange, Person, int | None]]:
    """Telegram and webhook customers in three zones; most answer, a few never do; every fourth is on the free plan."""
    out = []
    for i in range(CONTACTS):
        zone = ZONES[i % len(ZONES)]
        name = f"Customer {i + 1:02d}"
        if i % 2 == 0:
            key: int | str = 880_100 + i
            channel, conversation = "telegram", str(-100_880_100 - i)
        else:
            key = f"prog-{i + 1:02d}"
            channel, conversation = "webhook", f"prog-conv-{i + 1:02d}"
        plan = "free" if i % 4 == 3 else "pro"
        values = {"conversation_id": conversation, "locale": "en", "timezone": zone, "name": name,
                  "attributes": {"plan": plan}}  # fmt: skip
        score = None if rng.random() < 0.15 else rng.choice([3, 6, 7, 8, 9, 9, 10, 10])
        out.append((ContactChange(PROFILE, channel, str(key), values), Person(key, name, "en"), score))
    return out


async def run_programme(
    stack: AsyncExitStack,
    database_url: str,
    fakes: tuple[FakeTelegram, FakeSlack, FakeBridge],
    clock: Any,
    http: ClientSession,
    settle: Callable[[Runtime], Awaitable[None]],
    rng: random.Random,
) -> dict[str, Any]:
    """Plays the programme and returns its figures (printed afterwards by `print_programme`)."""
    telegram, slack, bridge = fakes
    runtime = Runtime(parse_config(config(database_url, telegram, slack, bridge), env={}), clock=clock)
    runtime.worker.sleep = clock.sleep
    stack.push_async_callback(runtime.store.dispose)
    _, app_url = await serve_on_loopback(runtime, stack)
    drivers: dict[str, Driver] = {
        "telegram": TelegramCustomers(http, app_url, PROFILE, SECRET, telegram, int(TOKEN.split(":")[0])),
        "webhook": BridgeCustomers(http, app_url, PROFILE, BRIDGE_SECRET, bridge, DELIVER),
    }
    cast = people(rng)
    # Sunday noon UTC after the conversations: the next occurrence is Monday 09:00 in Madrid.
    day = clock.now.astimezone(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    clock.now = day + timedelta(days=(6 - day.weekday()) % 7 or 7)
    keys = SuppressionKeys(runtime.config.privacy.keys())
    saved = await contact_batches.save_batch(runtime.store, keys, [c for c, _, _ in cast], clock.now)
    await runtime.scheduler.run_due()  # first seen: the campaign and the digest are due on Monday
    clock.now += timedelta(hours=20)  # Monday 08:00 UTC: 09:00 in Madrid in winter, 10:00 in summer
    counts = (await runtime.scheduler.run_due())[f"campaign:{PROFILE}:relationship"]
    async with runtime.store.read() as conn:  # each question's time in the send window, before quiet hours move it
        due = {s.id: s.due_at for s in await surveys_q.profile_surveys(conn, PROFILE)}
    for _ in range(2 * 24 * 2):  # two days in half hours: each question goes out at its time, or when quiet ends
        clock.now += timedelta(minutes=30)
        await runtime.service.tick()
        await settle(runtime)
    for change, person, score in cast:
        if score is not None and change.values["attributes"]["plan"] == "pro":
            await drivers[change.channel].tap(change.values["conversation_id"], person, score)
    await settle(runtime)
    clock.now += timedelta(hours=2)  # comment windows close
    await settle(runtime)
    async with runtime.store.read() as conn:
        rows = await surveys_q.profile_surveys(conn, PROFILE)
    clock.now = clock.now.replace(hour=8) + timedelta(days=(7 - clock.now.weekday()) % 7 or 7)  # the next Monday
    digest = await runtime.scheduler.run_due()
    await settle(runtime)
    comparison = await compare_kinds(runtime.store, Filters())
    [done] = slack.of("files.completeUploadExternal")
    chart = slack.uploads[done.params["files"][0]["id"]]
    return {"cast": cast, "saved": saved.saved, "counts": counts, "rows": rows, "due": due, "digest": digest,
            "comparison": comparison, "text": done.params.get("initial_comment", ""), "chart": len(chart),
            "channel": done.params.get("channel_id")}  # fmt: skip


def utc(stored: datetime) -> datetime:
    """A time as the store gives it back (naive UTC on SQLite)."""
    return stored if stored.tzinfo else stored.replace(tzinfo=UTC)


def print_programme(console: Console, got: dict[str, Any], transactional: NpsResult) -> bool:
    """The programme's figures and their check against the simulated customers; True when they agree."""
    rows = [r for r in got["rows"] if r.asked_at is not None]
    asked = Counter(r.address.channel for r in rows)
    held = [r for r in rows if QUIET_HOURS.contains(utc(got["due"][r.id]), ZoneInfo(r.timezone))]
    console.print()
    console.print(
        f"[bold]Survey programme[/bold]: {got['saved']} contacts imported, campaign 'relationship' run by the "
        f"scheduler: {got['counts']['created']} surveys created ({got['counts']['outside']} outside the audience); "
        "asked " + ", ".join(f"{n} on {ch}" for ch, n in sorted(asked.items()))
    )
    if held:
        first = min(held, key=lambda r: (got["due"][r.id], r.id))
        tz = ZoneInfo(first.timezone)
        due, sent = utc(got["due"][first.id]).astimezone(tz), utc(first.asked_at).astimezone(tz)
        console.print(
            f"  quiet hours {QUIET}: {len(held)} questions held; one due {due:%a %H:%M} in {first.timezone} "
            f"was asked at {sent:%a %H:%M} local"
        )
    comparison = got["comparison"]
    console.print(
        f"  relational {comparison.relational.result.format()} vs transactional "
        f"{comparison.transactional.result.format()}"
    )
    console.print(f"  weekly digest in Slack {got['channel']} (chart {got['chart']} bytes):")
    for line in got["text"].splitlines():
        console.print(f"    {line}", markup=False, highlight=False)
    answers = [s for c, _, s in got["cast"] if s is not None and c.values["attributes"]["plan"] == "pro"]
    audience = [c for c, _, _ in got["cast"] if c.values["attributes"]["plan"] == "pro"]
    expected = nps_from_scores(answers)
    ok_asked = sum(asked.values()) == len(audience) and asked == Counter(c.channel for c in audience)
    ok_nps = comparison.relational.result == expected and comparison.transactional.result == transactional
    local = [utc(r.asked_at).astimezone(ZoneInfo(r.timezone)) for r in held]
    ok_held = bool(held) and all(f"{t:%H:%M}" == "09:00" for t in local)
    ok_digest = bool(got["text"]) and got["chart"] > 0 and f"({len(answers)} responses" in got["text"]
    console.print(
        f"check: {sum(asked.values())} asked of {len(audience)} in the audience "
        f"{'as expected' if ok_asked else 'BUT THEY DIFFER'}; relational {comparison.relational.result.format()} "
        f"{'matches' if ok_nps else 'DOES NOT MATCH'} the {len(answers)} answers {expected.format()} "
        f"(transactional too); held questions {'all asked at 09:00 local' if ok_held else 'NOT ASKED AT 09:00'}; "
        f"the digest {'counts the same answers' if ok_digest else 'DOES NOT COUNT THE ANSWERS'}"
    )
    return ok_asked and ok_nps and ok_held and ok_digest
