"""What keeping the report rollups costs the reply path: the same replies (a close asked at once, a score, a
comment) through SurveyService, with rollup maintenance and with it switched off, in the same run on the same
backend, as a ratio of replies per second (with / without).

    python -m bench.rollup_cost_bench                        # 2,000 conversations, SQLite and PostgreSQL
    python -m bench.rollup_cost_bench --conversations 500 --backends sqlite

"Off" replaces the store's rollup statements with none for the measurement only; the service, the transactions
and the outbox rows are otherwise the same. Conversations run 8 at a time, rounds alternate off / on.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from bench.databases import empty_store
from core.profiles import ProfileSettings
from core.service import SurveyService
from core.store import Store, rollups
from core.store.rollup_tables import ReportDayRow
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


async def conversations(service: SurveyService, first: int, n: int, concurrency: int = 8) -> float:
    """Seconds for `n` conversations: close (asked at once), score, comment."""

    async def one(i: int) -> None:
        address = Address("memory", "acme", f"conv-{i}", f"u{i}", None, "T1" if i % 2 else None)
        await service.handle(ConversationClosed(address, agent=f"agent{i % 7}", team="red", locale="en"))
        await service.handle(ScoreGiven(address, i % 11))
        await service.handle(TextReceived(address, "quick and friendly" if i % 3 else "slow"))

    queue = iter(range(first, first + n))

    async def worker() -> None:
        for i in queue:
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def run(backend: str, n: int, rounds: int) -> None:
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


async def check(store: Store) -> None:
    """The rounds with maintenance on were counted (the bench measures the real thing)."""
    async with store.read() as conn:
        asked = (await conn.execute(select(func.sum(ReportDayRow.__table__.c.asked)))).scalar_one()
    assert asked, "no rollups were written"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    parser.add_argument("--conversations", type=int, default=2000, help="per setting (off and on)")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    print(f"reply path with and without rollup maintenance, {args.conversations} conversations each (3 replies):")
    for backend in args.backends:
        await run(backend, args.conversations, args.rounds)


if __name__ == "__main__":
    asyncio.run(main())
