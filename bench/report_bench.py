"""Report bench: the summary, a breakdown and a weekly trend over 1M generated responses, next to a bare
`GROUP BY category` on the same table in the same run, on SQLite and PostgreSQL.

    python -m bench.report_bench                 # 1,000,000 responses on both backends
    python -m bench.report_bench --rows 200000 --backends sqlite
    python -m bench.report_bench --rows 2000     # a quick check that it runs
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from bench.databases import empty_store
from core.reports import Filters, breakdown, summary
from core.reports.analytics import distribution, followup_stats, trend
from core.store import Store
from core.store.rollup_rebuild import rebuild

COLUMNS = (
    "profile", "channel", "conversation_id", "user_id", "case_id", "agent", "team", "locale", "state", "score",
    "category", "reasks", "unparsed", "extra", "created_at", "asked_at", "scored_at", "completed_at", "resolved_at",
)  # fmt: skip


def rows(n: int, seed: int = 1) -> list[tuple]:
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        asked = start + timedelta(seconds=rng.randrange(365 * 86400))
        answered = rng.random() < 0.7
        score = rng.choices(range(11), weights=[2, 1, 1, 2, 2, 3, 4, 8, 10, 12, 10])[0] if answered else None
        category = None if score is None else "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
        resolved = asked + timedelta(minutes=rng.randrange(10, 4000)) if category == "detractor" else None
        out.append((
            f"p{i % 5}", ("telegram", "slack", "webhook")[i % 3], f"c{i}", f"u{i}", f"c{i}", f"agent-{i % 40}",
            f"team-{i % 6}", ("en", "es", "ca", "it", "pt", "fr", "de")[i % 7], "completed" if answered else "expired",
            score, category, 0, "[]", "{}", asked, asked, asked if answered else None, asked if answered else None,
            resolved if rng.random() < 0.6 else None,
        ))  # fmt: skip
    return out


async def fill(store: Store, data: list[tuple]) -> None:
    if store.is_sqlite:
        import sqlite3

        path = store.url.split("///", 1)[1]
        con = sqlite3.connect(path)
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        conv = [tuple(v.astimezone(UTC).strftime(fmt) if isinstance(v, datetime) else v for v in r) for r in data]
        con.executemany(f"INSERT INTO surveys ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", conv)
        con.commit()
        con.execute("ANALYZE")
        con.close()
        return
    import asyncpg

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for r in data:
        writer.writerow(["" if v is None else v.isoformat() if isinstance(v, datetime) else v for v in r])
    con = await asyncpg.connect(store.url.replace("postgresql+asyncpg://", "postgresql://"))
    source = io.BytesIO(buffer.getvalue().encode())
    await con.copy_to_table("surveys", source=source, columns=list(COLUMNS), format="csv", null="")
    await con.execute("ANALYZE surveys")
    await con.close()


async def timed(fn: Callable[[], Awaitable[object]], repeat: int = 3) -> float:
    """Best of `repeat` after one untimed run, so no query (the baseline included) pays for a cold cache."""
    await fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        await fn()
        best = min(best, time.perf_counter() - t0)
    return best


async def bench(store: Store, n: int) -> list[tuple[str, float]]:
    await store.migrate()
    t0 = time.perf_counter()
    data = rows(n)
    await fill(store, data)
    async with store.transaction() as conn:
        await rebuild(conn)  # the rows went in past the store's write paths: derive the report rollups from them
    print(f"  {store.dialect}: generated {n:,} responses in {time.perf_counter() - t0:.1f} s")
    answered = sum(r[9] is not None for r in data)
    got = await summary(store)
    assert (got.asked, got.responses) == (n, answered), f"summary saw {got.asked}/{got.responses}, not {n}/{answered}"
    del data

    async def bare() -> None:
        async with store.read() as conn:
            (await conn.execute(text("SELECT category, count(*) FROM surveys GROUP BY category"))).all()

    return [
        ("bare GROUP BY category", await timed(bare)),
        ("summary (NPS, margin, response rate)", await timed(lambda: summary(store))),
        ("distribution 0-10", await timed(lambda: distribution(store))),
        ("breakdown by agent", await timed(lambda: breakdown(store, "agent"))),
        ("weekly trend", await timed(lambda: trend(store, Filters(), "week"))),
        ("detractor follow-up, median to resolve", await timed(lambda: followup_stats(store))),
        ("summary, one profile, one quarter", await timed(lambda: summary(store, Filters(
            profile="p1", since=datetime(2025, 4, 1, tzinfo=UTC), until=datetime(2025, 7, 1, tzinfo=UTC))))),
    ]  # fmt: skip


def show(title: str, results: list[tuple[str, float]], width: int) -> None:
    """Each query's time next to its ratio to the first, the bare GROUP BY timed in the same run."""
    base = results[0][1]
    print(title)
    for label, seconds in results:
        print(f"  {label:<{width}} {seconds * 1000:9.1f} ms   {seconds / base:5.2f}× the bare GROUP BY")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    args = parser.parse_args()
    for backend in args.backends:
        async with empty_store(backend, "rbench") as store:
            results = await bench(store, args.rows)
        show(f"{backend}, {args.rows:,} responses (best of 3):", results, width=38)


if __name__ == "__main__":
    asyncio.run(main())
