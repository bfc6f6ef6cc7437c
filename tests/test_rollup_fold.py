"""The report rollups' change logs: a write appends its changes there, a fold moves them into the rollups exactly once
(a fold that fails before its commit, or a process that stops before folding, loses nothing; folds racing on
PostgreSQL count nothing twice), the worker's chore folds them, and a rebuild empties them. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from core import rollups as r
from core.profiles import ProfileSettings
from core.rollup_folding import RollupFolder
from core.service import SurveyService
from core.store import Store, rollups
from core.store.rollup_fold import fold, fold_all, fold_table
from core.survey import Policy
from core.types import Address, ConversationClosed, ScoreGiven
from tests.conftest import FakeClock

DAY = date(2026, 3, 2)
NOTHING = {name: Counter() for name in rollups.ORDER}


def key(agent: str) -> r.Key:
    return (DAY, "acme", "telegram", agent, "", "en", "", "transactional", "", "")


# Transactions' changes: three rows, one of them taken back to nothing by a later change.
CHANGES: list[r.Delta] = [
    {"report_days": {key("ana"): {"asked": 1}}},
    {"report_days": {key("ana"): {"asked": 1}, key("bo"): {"asked": 1}}},
    {"report_days": {key("ana"): {"s9": 1}}, "report_skips": {(*key("cy"), "throttled"): {"surveys": 1}}},
    {"report_days": {key("bo"): {"s3": 1, "commented": 1}}},
    {"report_days": {key("ana"): {"s9": -1, "s10": 1}}},
    {"report_theme_days": {(*key("bo"), "speed"): {"s3": 1}}},
    {"report_theme_days": {(*key("bo"), "speed"): {"s3": -1}}},
]


def summed(changes: list[r.Delta]) -> dict[str, Counter[tuple[Any, ...]]]:
    out: dict[str, Counter[tuple[Any, ...]]] = {t: Counter() for t in rollups.ORDER}
    for change in changes:
        for table, rows in change.items():
            for k, counts in rows.items():
                for c, n in counts.items():
                    out[table][(*k, c)] += n
    return {t: +c for t, c in out.items()}


async def append(store: Store, changes: list[r.Delta]) -> None:
    for change in changes:
        async with store.transaction() as conn:
            await rollups.add_change(conn, change)


async def rows(store: Store, logs: bool = False) -> dict[str, Counter[tuple[Any, ...]]]:
    """The counters of the rollup tables (or of their logs), zeros left out."""
    out = {}
    async with store.read() as conn:
        for name in rollups.ORDER:
            table = (rollups.LOGS if logs else rollups.TABLES)[name]
            found: Counter[tuple[Any, ...]] = Counter()
            for row in (await conn.execute(select(table))).mappings():
                day = row["day"] if isinstance(row["day"], date) else date.fromisoformat(str(row["day"]))
                k = (day, *(row[c] for c in rollups.KEYS[name][1:]))
                for c in rollups.COUNTERS[name]:
                    found[(*k, c)] += row[c]
            out[name] = +found
    return out


async def logged(store: Store) -> dict[str, int]:
    async with store.read() as conn:
        return {
            name: (await conn.execute(select(func.count()).select_from(log))).scalar_one()
            for name, log in rollups.LOGS.items()
        }


async def test_a_write_appends_and_a_fold_moves_each_change_once(store: Store) -> None:
    await append(store, CHANGES)
    assert await logged(store) == {**dict.fromkeys(rollups.LOGS, 0), "report_days": 6, "report_skips": 1,
                                   "report_theme_days": 2}  # fmt: skip
    assert await rows(store) == NOTHING  # nothing written to the rollups yet
    assert await rows(store, logs=True) == summed(CHANGES)

    first = await fold(store, batch=4)  # the oldest four of report_days' six
    assert first["report_days"] == 4 and first["report_skips"] == 1
    assert await logged(store) == {**dict.fromkeys(rollups.LOGS, 0), "report_days": 2}
    assert await fold_all(store, batch=4) == 2
    assert await rows(store) == summed(CHANGES) and sum((await logged(store)).values()) == 0
    assert await fold_all(store) == 0  # folded once: a second fold finds nothing
    assert await rows(store) == summed(CHANGES)

    await append(store, CHANGES[:2])  # later changes add to the rows already folded
    await fold_all(store)
    assert await rows(store) == summed([*CHANGES, *CHANGES[:2]])


async def test_a_fold_that_fails_before_its_commit_loses_nothing(store: Store) -> None:
    await append(store, CHANGES)
    with pytest.raises(RuntimeError):
        async with store.transaction() as conn:
            assert await fold_table(conn, "report_days") == 6
            raise RuntimeError("the process died before the commit")
    assert await rows(store) == NOTHING
    assert await rows(store, logs=True) == summed(CHANGES)
    # A process that stopped after the writes committed, before any fold: the next one folds them.
    again = Store(store.url)
    try:
        assert await fold_all(again) == 9
    finally:
        await again.dispose()
    assert await rows(store) == summed(CHANGES) and sum((await logged(store)).values()) == 0


async def test_folds_racing_each_other_and_the_writers_count_each_change_once(pg_store: Store) -> None:
    """Four folders with small batches while replies keep appending: every change lands in the rollups once."""
    changes = [CHANGES[i % len(CHANGES)] for i in range(140)]
    writing = asyncio.Event()

    async def write(part: list[r.Delta]) -> None:
        await append(pg_store, part)

    async def folder() -> int:
        moved = 0
        while not writing.is_set():
            moved += await fold_all(pg_store, batch=3)
            await asyncio.sleep(0)
        return moved + await fold_all(pg_store, batch=3)

    folders = [asyncio.ensure_future(folder()) for _ in range(4)]
    await asyncio.gather(*(write(changes[i::7]) for i in range(7)))
    writing.set()
    moved = await asyncio.gather(*folders)
    assert sum(moved) == 9 * 20  # each log row moved by exactly one folder
    assert await rows(pg_store) == summed(changes) and sum((await logged(pg_store)).values()) == 0


async def test_folds_started_together_on_one_log_move_it_once(pg_store: Store) -> None:
    changes = [CHANGES[i % len(CHANGES)] for i in range(210)]
    await append(pg_store, changes)
    moved = await asyncio.gather(*(fold_all(pg_store, batch=25) for _ in range(4)))
    assert sum(moved) == 9 * 30
    assert await rows(pg_store) == summed(changes) and sum((await logged(pg_store)).values()) == 0


async def test_a_rebuild_empties_the_logs(store: Store) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 10, tzinfo=UTC))
    service = SurveyService(store, {"acme": ProfileSettings("acme", Policy(brand="Acme"))}, clock)
    for user in range(3):
        address = Address("telegram", "acme", f"conv-{user}", f"u{user}")
        await service.handle(ConversationClosed(address, agent="ana", locale="en"))
        await service.handle(ScoreGiven(address, 9 - user))
    await append(store, CHANGES)  # changes no raw row explains: the rebuild drops them with the log
    assert (await logged(store))["report_days"] > len(CHANGES)
    await rollups.rebuild_all(store)
    assert sum((await logged(store)).values()) == 0 and not (await rows(store))["report_skips"]
    counted = (await rows(store))["report_days"]
    assert counted == Counter({(*key("ana"), "asked"): 3, (*key("ana"), "q_sent"): 3, (*key("ana"), "q_reached"): 3,
                               (*key("ana"), "s9"): 1, (*key("ana"), "s8"): 1, (*key("ana"), "s7"): 1})  # fmt: skip


async def test_the_workers_chore_folds_what_replies_append(store: Store) -> None:
    clock = FakeClock(datetime(2026, 3, 2, 10, tzinfo=UTC))
    service = SurveyService(store, {"acme": ProfileSettings("acme", Policy(brand="Acme"))}, clock)
    address = Address("telegram", "acme", "conv-1", "u1")
    await service.handle(ConversationClosed(address, agent="ana", locale="en"))
    await service.handle(ScoreGiven(address, 10))
    assert (await logged(store))["report_days"] == 2 and not (await rows(store))["report_days"]
    stop = asyncio.Event()
    chore = asyncio.ensure_future(RollupFolder(store, every=0.01).run(stop))
    try:
        async with asyncio.timeout(30):
            while sum((await logged(store)).values()):
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        await chore
    folded = (await rows(store))["report_days"]
    assert folded[(*key("ana"), "asked")] == 1 and folded[(*key("ana"), "s10")] == 1
