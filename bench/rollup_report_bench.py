"""Report bench at scale: every dashboard panel and API report over 10M generated responses, read from the report
rollups, next to a bare `SELECT category, count(*) FROM surveys GROUP BY category` in the same run, on PostgreSQL
and SQLite.

The responses are generated inside the database with set-based SQL: one INSERT … SELECT over generate_series on
PostgreSQL, over a recursive CTE counting 1..n on SQLite; the theme mentions with one INSERT … SELECT from them, and
the rollups with the store's rebuild.

    python -m bench.rollup_report_bench                          # 10,000,000 responses, PostgreSQL then SQLite
    python -m bench.rollup_report_bench --rows 200000 --backends sqlite
    python -m bench.rollup_report_bench --keep bench_10m --generate-only   # generate once and keep the database
    python -m bench.rollup_report_bench --reuse bench_10m                 # later runs: migrate to head, time

`--keep NAME` keeps the generated data: PostgreSQL database NAME, SQLite file /work/bench-data/NAME.db.
`--reuse NAME` brings such a database to the migrations' head (as the service does at start-up) and times it
without generating again; `--rebuild-rollups` re-derives its rollups first (after a change to their tables).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.schema import CreateIndex, DropIndex

from bench.databases import PG_ADMIN, admin, empty_store, generated
from bench.report_bench import show, timed
from bench.report_http import REQUESTS, app_client, one_by_one, requester
from bench.themes_bench import theme_rows
from core.reports import Filters, breakdown, summary
from core.reports.analytics import distribution, followup_stats, trend
from core.reports.delivery import delivery_by_channel, skipped_by_reason
from core.reports.overview import report_parts
from core.reports.sla import sla_report
from core.reports.themes import theme_figures, theme_trend
from core.store import Store
from core.store.rollup_rebuild import rebuild
from core.store.tables import SurveyRow
from core.store.theme_tables import ResponseThemeRow

ORIGIN = datetime(2025, 1, 1, tzinfo=UTC)
KEPT = Path(os.environ.get("NPSBOT_BENCH_DATA", "/work/bench-data"))  # where kept SQLite databases live
# Memory for the load's sorts and index builds (and no wait for the disk at commit): settings of this transaction
# on PostgreSQL, of this connection on SQLite.
BULK = {
    "postgresql": ["SET LOCAL work_mem = '256MB'", "SET LOCAL maintenance_work_mem = '1GB'",
                   "SET LOCAL synchronous_commit = off"],
    "sqlite": ["PRAGMA temp_store = MEMORY", "PRAGMA cache_size = -1000000"],
}  # fmt: skip
COLUMNS = (
    "profile, channel, conversation_id, user_id, case_id, agent, team, locale, workspace, kind, campaign, variant, "
    "state, skip_reason, score, category, comment, reasks, unparsed, extra, question_status, question_ref, "
    "created_at, asked_at, scored_at, completed_at, claimed_at, resolved_at"
)


def statements(dialect: str, rows: int) -> list[str]:
    """Fill surveys with `rows` surveys over 2025 (3 % skipped, 70 % answered, the rest expired unanswered) and
    response_themes with the themes of their comments. Values are spread by arithmetic on the row number (a
    planner may evaluate random() once per reference)."""
    g = generated(dialect, rows, ORIGIN)
    asked = g.at("(i * 7919) % 31536000")
    later = g.at("(i * 7919) % 31536000 + 600 + (i % 5000) * 60")
    fill = (
        f"{g.prefix}INSERT INTO surveys ({COLUMNS}) "
        "SELECT 'p' || (i % 5), CASE i % 3 WHEN 0 THEN 'telegram' WHEN 1 THEN 'slack' ELSE 'webhook' END, "
        "'c' || i, 'u' || i, 'c' || i, 'agent-' || (i % 40), 'team-' || (i % 6), "
        "CASE i % 7 WHEN 0 THEN 'en' WHEN 1 THEN 'es' WHEN 2 THEN 'ca' WHEN 3 THEN 'it' WHEN 4 THEN 'pt' "
        "WHEN 5 THEN 'fr' ELSE 'de' END, CASE WHEN i % 3 = 1 THEN 'T' || (i % 4) END, "
        "CASE WHEN i % 10 = 0 THEN 'relational' ELSE 'transactional' END, "
        "CASE WHEN i % 10 = 0 THEN 'q' || (i % 3) END, CASE i % 4 WHEN 0 THEN 'a' WHEN 1 THEN 'b' END, "
        "CASE WHEN k >= 970 THEN 'skipped' WHEN k < 700 THEN 'completed' ELSE 'expired' END, "
        "CASE WHEN k >= 970 THEN CASE i % 4 WHEN 0 THEN 'throttled' WHEN 1 THEN 'opted_out' "
        "WHEN 2 THEN 'unreachable' END END, "
        "CASE WHEN k < 700 THEN s END, "
        "CASE WHEN k >= 700 THEN NULL WHEN s >= 9 THEN 'promoter' WHEN s >= 7 THEN 'passive' ELSE 'detractor' END, "
        "CASE WHEN k < 700 AND (i * 48271) % 100 < 40 THEN 'a comment' END, 0, '[]', '{}', "
        "CASE WHEN k < 970 THEN CASE i % 5 WHEN 0 THEN 'delivered' WHEN 1 THEN 'read' WHEN 2 THEN 'failed' "
        "WHEN 3 THEN 'sent' END END, CASE WHEN k < 970 AND i % 2 = 0 THEN 'm' || i END, "
        "t, CASE WHEN k < 970 THEN t END, CASE WHEN k < 700 THEN t END, CASE WHEN k < 700 THEN t END, "
        "CASE WHEN k < 700 AND s <= 6 AND i % 3 = 1 THEN u END, CASE WHEN k < 700 AND s <= 6 AND i % 3 = 2 THEN u END "
        f"FROM (SELECT i, (i * 2654435761) % 1000 AS k, ((i * 31) + (i / 7)) % 11 AS s, {asked} AS t, {later} AS u "
        f"FROM {g.source}) AS x"
    )
    return [fill, theme_rows()]


async def generate(store: Store, rows: int) -> None:
    await store.migrate()
    t0 = time.perf_counter()
    indexes = [*SurveyRow.__table__.indexes, *ResponseThemeRow.__table__.indexes]
    async with store.transaction() as conn:  # a bulk load: the indexes are built once, after the rows are in
        for setting in BULK[store.dialect]:
            await conn.execute(text(setting))
        for index in indexes:
            await conn.execute(DropIndex(index, if_exists=True))
        for statement in statements(store.dialect, rows):
            await conn.execute(text(statement))
        for index in indexes:
            await conn.execute(CreateIndex(index))
    t1 = time.perf_counter()
    await _rebuild_and_analyze(store)
    async with store.read() as conn:
        counted = (await conn.execute(text("SELECT count(*) FROM surveys"))).scalar_one()
        mentions = (await conn.execute(text("SELECT count(*) FROM response_themes"))).scalar_one()
        day_rows = (await conn.execute(text("SELECT count(*) FROM report_days"))).scalar_one()
    assert counted == rows, f"generated {counted} surveys, not {rows}"
    print(
        f"  {store.dialect}: {rows:,} surveys and {mentions:,} theme mentions in {t1 - t0:.0f} s, "
        f"rollups ({day_rows:,} day rows) rebuilt in {time.perf_counter() - t1:.0f} s"
    )


async def _rebuild_and_analyze(store: Store) -> None:
    """Re-derive the rollups with the load's memory settings, then refresh the planner's statistics (and on
    PostgreSQL the visibility map: a server may run without autovacuum)."""
    async with store.transaction() as conn:
        for setting in BULK[store.dialect]:
            await conn.execute(text(setting))
        await rebuild(conn)
    if store.dialect == "postgresql":  # VACUUM sets the visibility map the reports' index-only scans rely on
        async with store.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            await conn.execute(text("VACUUM (ANALYZE)"))
        return
    async with store.transaction() as conn:
        await conn.execute(text("ANALYZE"))


async def rebuild_rollups(store: Store) -> None:
    t0 = time.perf_counter()
    await _rebuild_and_analyze(store)
    print(f"  {store.dialect}: rollups rebuilt in {time.perf_counter() - t0:.0f} s")


def kept_url(backend: str, name: str) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{KEPT / (name + '.db')}"
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"


def kept_file(name: str, *, new: bool) -> Path:
    """The kept SQLite file NAME: to be created (refused if it exists) or to be reused (refused if it does not)."""
    path = KEPT / f"{name}.db"
    KEPT.mkdir(parents=True, exist_ok=True)
    if new and path.exists():
        raise SystemExit(f"{path} exists: reuse it (--reuse) or remove it first")
    if not new and not path.exists():
        raise SystemExit(f"no kept SQLite database {path}")
    return path


@asynccontextmanager
async def data_store(
    backend: str, rows: int, keep: str | None, reuse: str | None, rebuild_: bool
) -> AsyncIterator[Store]:
    """A store holding the generated surveys: reused from an earlier `--keep` run (migrated to head), generated
    into a kept database, or generated into a throwaway one."""
    if reuse:
        if backend == "sqlite":
            kept_file(reuse, new=False)
        store = Store(kept_url(backend, reuse))
        try:
            await store.migrate()
            if rebuild_:
                await rebuild_rollups(store)
            yield store
        finally:
            await store.dispose()
        return
    if keep:
        if backend == "sqlite":
            kept_file(keep, new=True)
        else:
            await admin(f'CREATE DATABASE "{keep}"')
        store = Store(kept_url(backend, keep))
        try:
            await generate(store, rows)
            yield store
        finally:
            await store.dispose()
        return
    async with empty_store(backend, "rollbench") as store:
        await generate(store, rows)
        yield store


async def counted(store: Store) -> int:
    async with store.read() as conn:
        return (await conn.execute(text("SELECT count(*) FROM surveys"))).scalar_one()


async def bench(store: Store, repeat: int = 3, http_only: bool = False) -> list[tuple[str, float]]:
    async with store.read() as conn:
        asked = (await conn.execute(text("SELECT count(asked_at) FROM surveys"))).scalar_one()
    got = await summary(store)
    assert got.asked == asked, f"the summary saw {got.asked} asked, not {asked}"

    async def bare() -> None:
        async with store.read() as conn:
            (await conn.execute(text("SELECT category, count(*) FROM surveys GROUP BY category"))).all()

    # A period that starts and ends inside a day: whole days from the rollups, both partial days from raw rows.
    quarter = Filters(
        profile="p1", since=datetime(2025, 4, 1, 9, 30, tzinfo=UTC), until=datetime(2025, 7, 1, 17, 0, tzinfo=UTC)
    )

    def sla(by: str | None) -> Callable[[], Awaitable[object]]:
        return lambda: sla_report(store, Filters(), datetime.now(UTC), by)

    def endpoint() -> Awaitable[object]:  # what GET /api/v1/nps?by=agent&bucket=week reads
        return report_parts(store, Filters(), by="agent", bucket="week", minimum=30)

    panels = [
        ("bare GROUP BY category", bare),
        ("report_parts (what /api/v1/nps reads)", endpoint),
        ("summary (NPS, margin, response rate)", lambda: summary(store)),
        ("distribution 0-10", lambda: distribution(store)),
        ("breakdown by agent", lambda: breakdown(store, "agent")),
        ("weekly trend", lambda: trend(store, Filters(), "week")),
        ("monthly trend", lambda: trend(store, Filters(), "month")),
        ("theme report", lambda: theme_figures(store)),
        ("weekly theme trend", lambda: theme_trend(store, Filters(), "week")),
        ("delivery by channel", lambda: delivery_by_channel(store)),
        ("skipped by reason", lambda: skipped_by_reason(store)),
        ("detractor follow-ups, median to resolve", lambda: followup_stats(store)),
        ("summary, one profile, a quarter from 09:30", lambda: summary(store, quarter)),
        ("weekly trend, one profile, a quarter from 09:30", lambda: trend(store, quarter, "week")),
        ("SLA report", sla(None)),
        ("SLA report by team", sla("team")),
        ("SLA report by agent", sla("agent")),
    ]  # fmt: skip
    if http_only:
        panels = panels[:1]
    async with app_client(store) as (client, runtime):  # what a user waits for: requests through the service's app
        panels[1:1] = [(label, requester(client, path)) for label, path in REQUESTS]
        panels.insert(2, ("data.json's body, parts one after another", one_by_one(runtime)))
        return [(label, await timed(fn, repeat)) for label, fn in panels]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--backends", nargs="+", default=["postgres", "sqlite"], choices=["sqlite", "postgres"])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per panel after the warm-up (best kept)")
    parser.add_argument("--keep", metavar="NAME", help="keep the generated data (PostgreSQL database / SQLite file)")
    parser.add_argument("--reuse", metavar="NAME", help="time the data a `--keep NAME` run left, migrated to head")
    parser.add_argument("--rebuild-rollups", action="store_true", help="with --reuse: re-derive the rollups first")
    parser.add_argument("--http-only", action="store_true", help="time the requests and the bare GROUP BY only")
    parser.add_argument("--generate-only", action="store_true", help="generate (with --keep) and time nothing")
    args = parser.parse_args()
    if args.keep and args.reuse:
        parser.error("--keep and --reuse exclude each other")
    for backend in args.backends:
        print(f"load average before {backend}: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        async with data_store(backend, args.rows, args.keep, args.reuse, args.rebuild_rollups) as store:
            if args.generate_only:
                continue
            results = await bench(store, args.repeat, args.http_only)
            rows = await counted(store)
        show(f"{backend}, {rows:,} surveys (best of {args.repeat}):", results, width=52)
        print(f"load average after {backend}: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    asyncio.run(main())
