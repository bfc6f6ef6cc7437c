"""One request's rollup reads, shared by all its report parts. The dashboard asks for the summary, the distribution,
nine breakdowns, the filter options, the delivery and follow-up counts and the variants: each a sum over the same
rollup rows, grouped or filtered by a different dimension. Inside `sharing()`, the first of them reads the rollup
rows once, grouped by every dimension with every column; the others add up those groups in Python (the same integers
the database would add), so a request scans the rollups a few times instead of some thirty.

A read goes through here only when its dimension filters can be applied to the groups (an equality on a value that is
not empty). Other reads (per day for trends, or of a period the groups don't serve) are shared by identical filters,
grouping and columns; the trends' day rows serve the totals of their columns too, and the theme counts are read per
day once and added up over the days for the theme report.

Each read sums the rollup's own columns; the counts made of several (promoters: s9 + s10) are added up here, from the
groups. At 10M on SQLite the groups of every count took 0.86 s of CPU, of the columns 0.72 s (0.25 s read in order
from migration 0023's index); a trend of every count 0.32 s, of the columns it needs 0.12 s."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from core.reports import rollup_query as rq
from core.reports.planner import grouped_in_memory
from core.reports.scope import DIMENSIONS, Filters

Key = tuple[Any, ...]
Counts = dict[str, int]
REASON = len(DIMENSIONS)  # the skip groups' key: the dimensions, then the reason
_SHARED: ContextVar[SharedReads | None] = ContextVar("shared_rollup_reads", default=None)


@contextmanager
def sharing(*periods: Filters, grouped: bool = True) -> Iterator[SharedReads]:
    """Reports called inside (and in tasks started inside) share their rollup reads. The grouped reads serve the
    filters of these `periods` (their dimension filters aside; all filters when none is given): a report of another
    period (the comparison's previous 30 days) reads just what it needs. Without `grouped` (reports that break
    nothing down: a read grouped by every dimension costs more than the few ungrouped ones it replaces) only
    identical reads are shared. Inside another `sharing()`, its reads are the ones shared."""
    if (outer := _SHARED.get()) is not None:
        yield outer
        return
    shared = SharedReads(periods, grouped=grouped)
    token = _SHARED.set(shared)
    try:
        yield shared
    finally:
        _SHARED.reset(token)


def current(filters: Filters) -> SharedReads | None:
    """The shared reads in effect, when these filters can be served from them."""
    shared = _SHARED.get()
    if shared is None or any(getattr(filters, d) == "" for d in DIMENSIONS):
        return None
    return shared


def _undimensioned(filters: Filters) -> Filters:
    return replace(filters, **dict.fromkeys(DIMENSIONS))


def _matches(filters: Filters, key: Key) -> bool:
    return all(
        (value := getattr(filters, d)) is None or key[i] == value for i, d in enumerate(DIMENSIONS)
    )  # fmt: skip


def _positions(by: Sequence[str]) -> list[int]:
    return [REASON if d == "reason" else DIMENSIONS.index(d) for d in by]


# The day rollup's own columns: the counts that are one column each (every count is a sum of some of them).
COLUMNS = tuple(name for name, measure in rq.DAY_MEASURES.items() if measure.rollup == (name,))


def _columns(names: Sequence[str]) -> tuple[str, ...]:
    """The columns the counts `names` add up, in the rollup's order."""
    wanted = {c for name in names for c in rq.DAY_MEASURES[name].rollup}
    return tuple(c for c in COLUMNS if c in wanted)


# What per-day reads ask for, read together: the trend's tallies, the comments a theme trend's shares divide by and
# those per category a theme's shares divide by. Totals of these columns are added up from the days as well.
DAILY = _columns(("asked", "responses", "commented", "c_promoter", "c_passive", "c_detractor"))


def _over_days(days: dict[Key, Counts]) -> dict[Key, Counts]:
    """Per-day groups added up over the days (the day last in each key)."""
    out: dict[Key, Counts] = {}
    for key, counts in days.items():
        group = out.setdefault(key[:-1], dict.fromkeys(counts, 0))
        for name, n in counts.items():
            group[name] += n
    return out


def _counts(columns: Counts, names: Sequence[str]) -> Counts:
    """The counts `names` from a group's column sums."""
    return {name: sum(columns[c] for c in rq.DAY_MEASURES[name].rollup) for name in names}


async def _grouped(conn: AsyncConnection, filters: Filters, *, skips: bool = False) -> dict[Key, Counts]:
    """The day rollups (or the skips, by reason too) grouped by every dimension, with every column."""
    async with grouped_in_memory(conn):
        if skips:
            return await rq.skip_read(conn, filters, (*DIMENSIONS, "reason"))
        return await rq.day_read(conn, filters, COLUMNS, DIMENSIONS, False)


class SharedReads:
    def __init__(self, periods: Sequence[Filters] = (), *, grouped: bool = True) -> None:
        self._bases = {_undimensioned(f) for f in periods} or None
        self._grouped = grouped
        self._reads: dict[Hashable, asyncio.Future[Any]] = {}
        self.reads = 0  # rollup reads made (the rest were served from them)

    async def _once(self, key: Hashable, read: Callable[[], Awaitable[Any]]) -> Any:
        """The first caller reads (on its own connection); concurrent and later callers wait for its result."""
        if (pending := self._reads.get(key)) is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._reads[key] = future
        self.reads += 1
        try:
            future.set_result(await read())
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a failure nobody else waited for is not reported twice
            raise
        return future.result()

    async def day_counts(
        self, conn: AsyncConnection, filters: Filters, names: Sequence[str], by: Sequence[str], per_day: bool
    ) -> dict[Key, Counts]:
        """rollup_query.day_read's groups for these arguments (before groups with nothing asked are left out)."""
        base = _undimensioned(filters)
        if per_day or not self._grouped or (self._bases is not None and base not in self._bases):
            columns = _columns(names)
            if (per_day or not by) and set(columns) <= set(DAILY):  # the day rows every such read shares
                read = lambda: rq.day_read(conn, filters, DAILY, by, True)  # noqa: E731
                days = await self._once(("days", filters, tuple(by)), read)
                got = days if per_day else _over_days(days)
            else:
                key = ("days" if per_day else "sums", filters, tuple(by), columns)
                got = await self._once(key, lambda: rq.day_read(conn, filters, columns, by, per_day))
            return {k: _counts(c, names) for k, c in got.items()}
        cube = await self._once(("cube", base), lambda: _grouped(conn, base))
        at, columns = _positions(by), _columns(names)
        sums: dict[Key, Counts] = {}
        for key, counts in cube.items():
            if _matches(filters, key):
                group = sums.setdefault(tuple(key[i] for i in at), dict.fromkeys(columns, 0))
                for name in columns:
                    group[name] += counts[name]
        return {k: _counts(c, names) for k, c in sums.items()}

    async def theme_groups(self, conn: AsyncConnection, filters: Filters, per_day: bool) -> dict[Key, Counts]:
        """rollup_query.theme_read's groups: read per day once, added up over the days when not `per_day`."""
        days = await self._once(("themes", filters), lambda: rq.theme_read(conn, filters, True))
        if per_day:
            return {key: dict(counts) for key, counts in days.items()}
        return _over_days(days)

    async def skip_groups(self, conn: AsyncConnection, filters: Filters, by: Sequence[str]) -> dict[Key, Counts]:
        """rollup_query.skip_read's groups for these arguments."""
        base = _undimensioned(filters)
        if self._bases is not None and base not in self._bases:
            return await rq.skip_read(conn, filters, by)
        groups = await self._once(("skips", base), lambda: _grouped(conn, base, skips=True))
        at = _positions(by)
        out: dict[Key, Counts] = {}
        for key, counts in groups.items():
            if _matches(filters, key):
                group = out.setdefault(tuple(key[i] for i in at), {"surveys": 0})
                group["surveys"] += counts["surveys"]
        return out
