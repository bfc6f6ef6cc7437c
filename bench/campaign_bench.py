"""Campaign bench: one relational campaign's scheduling pass over 1M generated contacts (audience, reachability,
throttle, person grouping, spread, variants and the pending surveys' multi-row inserts), next to a bare baseline in
the same run — one INSERT INTO surveys … SELECT over the same contacts with no logic, the least any pass must
write — on SQLite and PostgreSQL.

    python -m bench.campaign_bench                           # 1,000,000 contacts on both backends
    python -m bench.campaign_bench --rows 20000 --backends sqlite

The contacts are generated set-based inside the database (INSERT … SELECT over a generated series), see `fill`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from bench.databases import empty_store, generated
from core.campaign_run import CampaignJob
from core.campaigns import Audience, Campaign, Condition
from core.profiles import ProfileSettings
from core.scheduler import Scheduler
from core.schedules import Schedule
from core.store import Store
from core.store.tables import SurveyRow
from core.survey import Policy
from core.variants import Variant

S = SurveyRow.__table__
PROFILE = "acme"
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in Madrid
RECENT = NOW - timedelta(days=3)  # inside the default 30-day throttle


def contact_statements(dialect: str, rows: int, profile: str = PROFILE) -> list[str]:
    """Contact i (1..rows) on webhook, user `u<i>`, plan `free` when i % 4 == 0 else `pro`, locale en (es when
    i % 5 == 0), opted out when i % 50 == 1, surveyed three days before NOW when i % 20 == 3. Every tenth is also on
    Telegram (user `t<i>`) as the same person (external id `p<i>`); that Telegram contact is unreachable when
    i % 30 == 0."""
    g = generated(dialect, rows, NOW - timedelta(days=400))
    prefix, source, js = g.prefix, g.source, g.js
    attrs = js('CASE WHEN i % 4 = 0 THEN \'{"plan": "free"}\' ELSE \'{"plan": "pro"}\' END')
    created = g.at("i")
    recent = RECENT.strftime("%Y-%m-%d %H:%M:%S")
    recent_at = f"timestamptz '{recent}+00'" if dialect == "postgresql" else f"'{recent}.000000'"
    webhook = (
        f"{prefix}INSERT INTO contacts (profile, channel, user_id, locale, attributes, external_id, opted_out_at, "
        f"last_surveyed_at, created_at, updated_at) SELECT '{profile}', 'webhook', 'u' || i, "
        f"CASE WHEN i % 5 = 0 THEN 'es' ELSE 'en' END, {attrs}, CASE WHEN i % 10 = 0 THEN 'p' || i END, "
        f"CASE WHEN i % 50 = 1 THEN {created} END, CASE WHEN i % 20 = 3 THEN {recent_at} END, {created}, {created} "
        f"FROM {source}"
    )
    telegram = (
        f"{prefix}INSERT INTO contacts (profile, channel, user_id, locale, attributes, external_id, unreachable_at, "
        f"created_at, updated_at) SELECT '{profile}', 'telegram', 't' || i, 'en', {attrs}, 'p' || i, "
        f"CASE WHEN i % 30 = 0 THEN {created} END, {created}, {created} FROM {source} WHERE i % 10 = 0"
    )
    return [webhook, telegram]


async def fill(store: Store, rows: int, profile: str = PROFILE) -> None:
    async with store.transaction() as conn:
        for sql in contact_statements(conn.dialect.name, rows, profile):
            await conn.execute(text(sql))
    async with store.transaction() as conn:
        await conn.execute(text("ANALYZE contacts"))  # as a deployment's statistics would be


def campaign(sample: float = 1.0) -> Campaign:
    return Campaign(
        name="quarterly",
        schedule=Schedule.parse("0 9 * * MON"),
        timezone="Europe/Madrid",
        audience=Audience((Condition("plan", ("pro",)),)),
        sample=sample,
        channels=("telegram", "webhook"),
        send_window=timedelta(days=3),
        variants=(Variant("short"), Variant("long")),
    )


def settings(sample: float = 1.0) -> ProfileSettings:
    return ProfileSettings(PROFILE, policy=Policy(brand="Acme"), campaigns=(campaign(sample),))


async def baseline(store: Store) -> float:
    """Every contact's pending survey written by one INSERT … SELECT with no logic; seconds."""
    sep = "chr(31)" if store.engine.dialect.name == "postgresql" else "char(31)"
    sql = (
        "INSERT INTO surveys (profile, channel, conversation_id, user_id, case_id, case_key, locale, state, reasks, "
        "unparsed, extra, created_at, due_at, next_check_at, kind, campaign) SELECT profile, channel, user_id, "
        f"user_id, 'base:' || id, 'base' || {sep} || id, 'en', 'pending', 0, '[]', '{{}}', :now, :now, :now, "
        "'relational', 'base' FROM contacts"
    )
    started = time.perf_counter()
    async with store.transaction() as conn:
        await conn.execute(text(sql), {"now": NOW})
    seconds = time.perf_counter() - started
    async with store.transaction() as conn:
        await conn.execute(text("DELETE FROM surveys WHERE campaign = 'base'"))
    return seconds


async def scheduling_pass(store: Store) -> tuple[float, dict[str, int]]:
    """The campaign's occurrence run through the scheduler; seconds and its counts."""
    job = CampaignJob(store, settings(), campaign(), lambda: NOW)
    started = time.perf_counter()
    counts = await Scheduler(store, [job], lambda: NOW).run_job(job, force=True)
    assert counts is not None
    return time.perf_counter() - started, counts


async def bench(store: Store, rows: int) -> list[tuple[str, float]]:
    await store.migrate()
    await fill(store, rows)
    async with store.read() as conn:
        contacts = int((await conn.execute(select(func.count()).select_from(text("contacts")))).scalar_one())
    base = await baseline(store)
    seconds, counts = await scheduling_pass(store)
    async with store.read() as conn:
        stored = int((await conn.execute(select(func.count()).select_from(S))).scalar_one())
    assert stored == counts["created"] == counts["due"], (stored, counts)
    return [
        (f"baseline: INSERT … SELECT of {contacts} surveys", base),
        (f"campaign pass ({counts['due']} due)", seconds),
    ]


async def main(rows: int, backends: list[str]) -> None:
    for backend in backends:
        async with empty_store(backend, "campaign") as store:
            results = await bench(store, rows)
        base = results[0][1]
        print(f"{backend}, {rows} contacts:")
        for label, seconds in results:
            print(f"  {label:<52} {seconds:8.2f} s  {seconds / base:6.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backends", nargs="+", default=["postgres", "sqlite"], choices=["postgres", "sqlite"])
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.backends))
