"""What keeping the report rollups costs the reply path: the same replies (a close asked at once, a score, a
comment) through SurveyService, with rollup maintenance and with it switched off, in the same run on the same
backend, as a ratio of replies per second (with / without).

Then the writes that recount the rows they change (`rollups.recounting`): question receipts
(SurveyService.question_status) and follow-up claims and resolutions (core.followup), one call at a time, as CPU
time of this process per call (SQLite runs inside it; PostgreSQL's own work is not counted) and calls per second,
with the recount switched off, done the previous way (the rows locked, then one grouped SELECT per table before and
after the write) and as shipped (the rows read before and after, the change worked out in Python).

    python -m bench.rollup_cost_bench                        # 2,000 conversations, 300 writes, both backends
    python -m bench.rollup_cost_bench --conversations 500 --writes 100 --backends sqlite

"Off" replaces the store's rollup statements with none for the measurement only; the service, the transactions
and the outbox rows are otherwise the same. Conversations run 8 at a time, rounds alternate the settings.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.databases import empty_store
from core import followup
from core.profiles import ProfileSettings
from core.service import SurveyService
from core.store import Store, rollups
from core.store import surveys as q
from core.store.rollup_fold import fold_all
from core.store.rollup_tables import ReportDayRow
from core.store.tables import SurveyRow
from core.store.theme_tables import ResponseThemeRow
from core.survey import Policy
from core.types import Address, ConversationClosed, ScoreGiven, TextReceived

PROFILES = {"acme": ProfileSettings("acme", Policy(brand="Acme"))}


@contextmanager
def maintenance(on: bool) -> Any:
    """Rollup maintenance as shipped (on) or skipped (off) on the reply path (insert, update and save_step)."""
    if on:
        yield
        return
    plan, apply = rollups.plan, rollups.apply

    async def nothing(*_: Any) -> None:
        return None

    rollups.plan, rollups.apply = (lambda *_a, **_k: []), nothing
    try:
        yield
    finally:
        rollups.plan, rollups.apply = plan, apply


async def conversations(
    service: SurveyService, first: int, n: int, concurrency: int = 8, score: int | None = None
) -> float:
    """Seconds for `n` conversations: close (asked at once), score (`score`, or by number), comment."""

    async def one(i: int) -> None:
        address = Address("memory", "acme", f"conv-{i}", f"u{i}", None, "T1" if i % 2 else None)
        await service.handle(ConversationClosed(address, agent=f"agent{i % 7}", team="red", locale="en"))
        await service.handle(ScoreGiven(address, i % 11 if score is None else score))
        await service.handle(TextReceived(address, "quick and friendly" if i % 3 else "slow"))

    queue = iter(range(first, first + n))

    async def worker() -> None:
        for i in queue:
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def run(backend: str, n: int, rounds: int, writes: int) -> None:
    async with empty_store(backend, "rollcost") as store:
        await store.migrate()
        service = SurveyService(store, PROFILES, lambda: datetime.now(UTC))
        await conversations(service, 10_000_000, 200)  # warm-up: statements compiled, pool filled
        seconds = {False: 0.0, True: 0.0}
        first = 0
        for _ in range(rounds):
            for on in (False, True):
                with maintenance(on):
                    seconds[on] += await conversations(service, first, n // rounds)
                first += n
        await check(store)
        off, on = (n / seconds[k] for k in (False, True))
        print(f"  {backend:<9} without rollups {off:7.0f} conversations/s   with {on:7.0f}/s   ratio {on / off:.2f}")
        if writes:
            await write_costs(store, service, writes, rounds)


# ---- writes that recount their rows


@asynccontextmanager
async def no_recount(conn: AsyncConnection, where: Sequence[Any], tables: Sequence[str] = ()) -> AsyncIterator[None]:
    yield


@asynccontextmanager
async def grouped_recount(
    conn: AsyncConnection, where: Sequence[Any], tables: Sequence[str] = rollups.ORDER
) -> AsyncIterator[None]:
    """The previous recounting, the reference: the rows locked in key order (PostgreSQL), then their contributions
    subtracted with one grouped SELECT per table before the write and added back with another after it."""
    if conn.dialect.name == "postgresql":
        s, t = SurveyRow.__table__, ResponseThemeRow.__table__
        if tuple(tables) == ("report_theme_days",):
            lock = select(t.c.survey_id).where(*where).order_by(t.c.survey_id, t.c.theme)
        else:
            lock = select(s.c.id).where(*where).order_by(s.c.id)
        await conn.execute(lock.with_for_update())
    await rollups.recount(conn, where, tables, -1)
    yield
    await rollups.recount(conn, where, tables, 1)


RECOUNTS = {"off": no_recount, "grouped": grouped_recount, "rows": rollups.recounting}


@contextmanager
def recounting(setting: str) -> Any:
    shipped = rollups.recounting
    rollups.recounting = RECOUNTS[setting]
    try:
        yield
    finally:
        rollups.recounting = shipped


async def completed(service: SurveyService, store: Store, first: int, n: int, score: int) -> list[tuple[int, str]]:
    """`n` completed surveys with `score` whose question went out with a ref: (id, ref) each."""
    await conversations(service, first, n, score=score)
    s = SurveyRow.__table__
    async with store.transaction() as conn:
        ids = (await conn.execute(select(s.c.id).where(s.c.question_ref.is_(None), s.c.score == score))).scalars()
        done = [(i, f"ref-{i}") for i in sorted(ids)]
        for i, ref in done:
            await q.set_question_ref(conn, i, ref)
    return done


async def timed(calls: Sequence[Callable[[], Awaitable[Any]]]) -> tuple[float, float]:
    """CPU seconds of this process and wall seconds for the calls, one after another."""
    cpu, wall = time.process_time(), time.perf_counter()
    for call in calls:
        await call()
    return time.process_time() - cpu, time.perf_counter() - wall


async def write_costs(store: Store, service: SurveyService, n: int, rounds: int) -> None:
    """Receipts and follow-up claims/resolutions (two calls per survey) with each recount setting; per setting
    `n` surveys, in `rounds` slices alternating with the other settings."""
    now = datetime.now(UTC)
    settings = tuple(RECOUNTS)
    # Fresh surveys for every setting and round (and one each to warm up): each write moves something.
    per = max(1, n // rounds)
    total = per * rounds * len(settings) + len(settings)
    receipts = await completed(service, store, 20_000_000, total, 9)
    detractors = await completed(service, store, 30_000_000, total, 2)

    def receipt_calls(part: list[tuple[int, str]]) -> list[Callable[[], Awaitable[Any]]]:
        statuses = ("delivered", "read")
        return [partial(service.question_status, "acme", "memory", ref, s, now) for _, ref in part for s in statuses]

    def followup_calls(part: list[tuple[int, str]]) -> list[Callable[[], Awaitable[Any]]]:
        acts = (followup.claim, followup.resolve)
        return [partial(act, store, i, "lead", now) for i, _ in part for act in acts]

    for name, surveys, calls in (("receipt", receipts, receipt_calls), ("claim/resolve", detractors, followup_calls)):
        cpu, wall, count = dict.fromkeys(settings, 0.0), dict.fromkeys(settings, 0.0), dict.fromkeys(settings, 0)
        for i, setting in enumerate(settings):  # warm-up: statements compiled
            with recounting(setting):
                await timed(calls(surveys[i : i + 1]))
        start = len(settings)
        for _ in range(rounds):
            for setting in settings:
                work = calls(surveys[start : start + per])
                start += per
                with recounting(setting):
                    c, w = await timed(work)
                cpu[setting] += c
                wall[setting] += w
                count[setting] += len(work)
        ms = {k: 1000 * cpu[k] / count[k] for k in settings}
        rate = {k: count[k] / wall[k] for k in settings}
        print(
            f"    {name:<13} CPU ms/call: off {ms['off']:.2f}, grouped {ms['grouped']:.2f}, rows {ms['rows']:.2f}"
            f" (rows/grouped {ms['rows'] / ms['grouped']:.2f}, rows/off {ms['rows'] / ms['off']:.2f});"
            f" calls/s: off {rate['off']:.0f}, grouped {rate['grouped']:.0f}, rows {rate['rows']:.0f}"
            f" (rows/off {rate['rows'] / rate['off']:.2f}); {count['rows']} calls each"
        )


async def check(store: Store) -> None:
    """The rounds with maintenance on were counted (the bench measures the real thing): the change logs folded into
    the rollups as a worker would, then read."""
    await fold_all(store)
    async with store.read() as conn:
        asked = (await conn.execute(select(func.sum(ReportDayRow.__table__.c.asked)))).scalar_one()
    assert asked, "no rollups were written"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    parser.add_argument("--conversations", type=int, default=2000, help="per setting (off and on)")
    parser.add_argument("--writes", type=int, default=300, help="surveys per recount setting (0: none)")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    print("load average at start:", " ".join(f"{v:.2f}" for v in os.getloadavg()))
    print(f"reply path with and without rollup maintenance, {args.conversations} conversations each (3 replies):")
    for backend in args.backends:
        await run(backend, args.conversations, args.rounds, args.writes)
    print("load average at end:", " ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    asyncio.run(main())
