"""Erasure bench: erasing one person among 1M generated surveys (and the contacts, outbox rows, delivery keys and
journal rows that go with them), next to a bare baseline in the same run — one indexed UPDATE of another person's
surveys, the least any erasure must do — on SQLite and PostgreSQL. Then once more with the delivery keys pruned to
the 30 days the default pruning keeps, which is what a deployment's key table holds.

    python -m bench.privacy_bench                              # 1,000,000 surveys on both backends
    python -m bench.privacy_bench --rows 20000 --backends sqlite

The data is the retention bench's (bench/retention_bench.py, generated set-based inside the database): about three
surveys per customer over five profiles and three channels, every question and detractor alert in the outbox, two
delivery keys per survey. Each timed erasure erases a different person (erasing someone twice is the cheap
"already erased" path), as does each baseline UPDATE; the best of several is shown. The plan of the survey lookup
is printed, so a lost index shows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, func, select, text, update

from bench.report_bench import PG_ADMIN, admin
from bench.retention_bench import NOW as GENERATED_UNTIL
from bench.retention_bench import PROFILES, generate
from core import privacy
from core.retention import Pruning
from core.store import Store
from core.store.tables import InboundKeyRow, SurveyRow
from core.suppression import SuppressionKeys

S = SurveyRow.__table__
K = InboundKeyRow.__table__
CHANNELS = ("telegram", "slack", "webhook")
NOW = datetime(2026, 1, 2, tzinfo=UTC)
REPEAT = 5


def person(n: int) -> tuple[str, str, str]:
    """(profile, channel, user id) of generated customer `n`: the retention bench gives customer u the profile
    p{u % 5} and the channel by u % 3."""
    return f"p{n % 5}", CHANNELS[n % 3], f"u{n}"


async def best(run: Callable[[int], Awaitable[object]], first: int) -> float:
    """Best of REPEAT runs, each on another person, after one untimed run (no cold cache charged to either way)."""
    await run(first)
    times = []
    for n in range(first + 1, first + 1 + REPEAT):
        t0 = time.perf_counter()
        await run(n)
        times.append(time.perf_counter() - t0)
    return min(times)


async def bench(store: Store, rows: int) -> list[tuple[str, float]]:
    t0 = time.perf_counter()
    await generate(store, rows)
    print(f"  {store.dialect}: generated {rows:,} surveys and what goes with them in {time.perf_counter() - t0:.0f} s")
    keys = SuppressionKeys([b"bench-hash-key-0123456789abcdef"])
    everywhere = privacy.Scope(frozenset(PROFILES), everywhere=True)

    async def baseline(n: int) -> None:
        profile, channel, user = person(n)
        async with store.transaction() as conn:
            stmt = update(S).where(S.c.channel == channel, S.c.user_id == user, S.c.profile == profile)
            await conn.execute(stmt.values(comment=None, customer_name=None))

    async def erase(scope: privacy.Scope | None) -> Callable[[int], Awaitable[None]]:
        async def run(n: int) -> None:
            profile, channel, user = person(n)
            where = scope or privacy.Scope(frozenset({profile}))
            done = await privacy.erase(store, keys, channel=channel, user_id=user, scope=where, actor="bench", now=NOW)
            assert done.counts["surveys"] >= 1, f"person {n} had no surveys"

        return run

    async def key_scan(n: int) -> None:
        async with store.transaction() as conn:
            await conn.execute(delete(K).where(K.c.key.like(f"%{person(n)[2]}%")))

    plan = await survey_plan(store, person(1))
    print(f"  plan of the person's survey lookup: {plan}")
    results = [
        ("baseline: one indexed UPDATE of a person's surveys", await best(baseline, 100)),
        ("erase one person, one profile named", await best(await erase(None), 200)),
        ("erase one person, every profile (admin)", await best(await erase(everywhere), 300)),
        ("  of which: the delivery-key scan alone", await best(key_scan, 400)),
    ]
    async with store.transaction() as conn:  # what the default pruning keeps: 30 days of delivery keys
        await conn.execute(delete(K).where(K.c.received_at < GENERATED_UNTIL - Pruning().delivery_keys))
        left = (await conn.execute(select(func.count()).select_from(K))).scalar_one()
    label = f"erase one person, every profile, {left:,} keys (30 days)"
    return [*results, (label, await best(await erase(everywhere), 500))]


async def survey_plan(store: Store, who: tuple[str, str, str]) -> str:
    profile, channel, user = who
    q = select(func.count()).where(S.c.channel == channel, S.c.user_id == user, S.c.profile == profile)
    async with store.read() as conn:
        sql = str(q.compile(conn.sync_connection, compile_kwargs={"literal_binds": True}))
        prefix = "EXPLAIN QUERY PLAN " if store.is_sqlite else "EXPLAIN "
        rows = (await conn.execute(text(prefix + sql))).all()
    return " | ".join(str(r[-1]) for r in rows)


async def run_backend(backend: str, rows: int) -> list[tuple[str, float]]:
    if backend == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix="npsbot-pbench-"))
        store = Store(f"sqlite+aiosqlite:///{directory / 'p.db'}")
        try:
            return await bench(store, rows)
        finally:
            await store.dispose()
            shutil.rmtree(directory, ignore_errors=True)
    name = f"npsbot_pbench_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{name}"')
    try:
        store = Store(PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}")
        try:
            return await bench(store, rows)
        finally:
            await store.dispose()
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="surveys to generate (default 1,000,000)")
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    args = parser.parse_args()
    for backend in args.backends:
        results = await run_backend(backend, args.rows)
        base = results[0][1]
        load = " ".join(f"{v:.2f}" for v in os.getloadavg())
        print(f"{backend}, {args.rows:,} surveys (best of {REPEAT}, load {load}):")
        for label, seconds in results:
            print(f"  {label:<52} {seconds * 1000:9.2f} ms   {seconds / base:7.1f}× the baseline")


if __name__ == "__main__":
    asyncio.run(main())
