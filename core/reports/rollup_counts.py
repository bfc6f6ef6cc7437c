"""Report counts as the reports ask for them: through one request's shared reads when in effect
(core/reports/shared_reads.py), else read from the rollups and raw rows by core/reports/rollup_query.py. Apart
from rollup_query so the shared reads can call its reads without an import loop."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.reports import shared_reads
from core.reports.planner import through_index, through_partial_index
from core.reports.rollup_query import UNKNOWN_REASON, Counts, Key, S, day_read, skip_read, theme_read
from core.reports.scope import Filters
from core.store.tables import ASKED_SKIPPED, UNASKED_UNSKIPPED


async def day_counts(
    conn: AsyncConnection, filters: Filters, names: Sequence[str], by: Sequence[str] = (), per_day: bool = False
) -> dict[Key, Counts]:
    """Counts of surveys asked in the filters' period (by when they were asked), per value of the `by` dimensions
    (and per UTC day of asking when `per_day`). A group with nothing asked is left out, as a raw GROUP BY over
    asked surveys would leave it."""
    names = list(dict.fromkeys(("asked", *names)))
    if (shared := shared_reads.current(filters)) is not None:  # one request's parts share their reads
        got = await shared.day_counts(conn, filters, names, by, per_day)
    else:
        got = await day_read(conn, filters, names, by, per_day)
    return {k: v for k, v in got.items() if v["asked"] > 0}


async def unasked_counts(conn: AsyncConnection, filters: Filters, by: Sequence[str]) -> dict[Key, int]:
    """Surveys never asked (pending, skipped before asking, …) per value of `by`: with no period a raw report
    counts them too (a period, on when surveys were asked, leaves them all out). Most are skipped ones, counted by
    the skip rollups; the few skipped after being asked are taken out and the few never asked nor skipped added,
    both read from raw rows through partial indexes of only those rows."""
    if filters.since is not None or filters.until is not None:
        return {}
    out = dict(await skip_counts(conn, filters, by))
    for sign, where in ((-1, ASKED_SKIPPED), (1, UNASKED_UNSKIPPED)):
        rows_of = through_index(S, where)
        cols = [rows_of.c[d] for d in by]
        q = select(*cols, func.count()).select_from(rows_of).where(*filters.where(rows_of))
        q = q.group_by(*cols)
        async with through_partial_index(conn):
            rows = (await conn.execute(q)).all()
        for row in rows:
            key = tuple(row[:-1])
            out[key] = out.get(key, 0) + sign * int(row[-1])
    return {key: n for key, n in out.items() if n > 0}


async def unasked_keys(conn: AsyncConnection, filters: Filters, by: Sequence[str]) -> set[Key]:
    """The values of `by` that surveys never asked carry: skipped ones from the skip rollups, and the few never
    asked nor skipped (pending, opted out) from raw rows through the partial index of only those rows. Through the
    state index instead, a filter on one profile drew SQLite to the profile's index, over all its surveys (17 s for
    one profile's variants at 10M); through the asked_at index it read every skipped survey (planner.through_index
    names the index)."""
    keys = set(await skip_counts(conn, replace(filters, since=None, until=None), by))
    rows_of = through_index(S, UNASKED_UNSKIPPED)
    cols = [rows_of.c[d] for d in by]
    waiting = filters.where(rows_of)
    async with through_partial_index(conn):
        keys.update(tuple(row) for row in (await conn.execute(select(*cols).where(*waiting).group_by(*cols))).all())
    return keys


async def skip_counts(conn: AsyncConnection, filters: Filters, by: Sequence[str]) -> dict[Key, int]:
    """Skipped surveys per value of `by` (dimensions and/or "reason"), the period applying to when each was
    created."""
    if (shared := shared_reads.current(filters)) is not None:  # one request's parts share their reads
        got = await shared.skip_groups(conn, filters, by)
    else:
        got = await skip_read(conn, filters, by)
    out: dict[Key, int] = {}
    for key, counts in got.items():
        if counts["surveys"] > 0:
            key = tuple(UNKNOWN_REASON if d == "reason" and v is None else v for d, v in zip(by, key, strict=True))
            out[key] = out.get(key, 0) + counts["surveys"]
    return out


async def theme_counts(conn: AsyncConnection, filters: Filters, per_day: bool = False) -> dict[Key, Counts]:
    """Responses mentioning each theme by category (promoter, passive, detractor), per theme (and UTC day of
    asking when `per_day`); themes without a mention in the period are left out."""
    if (shared := shared_reads.current(filters)) is not None:  # one request's parts share their reads
        got = await shared.theme_groups(conn, filters, per_day)
    else:
        got = await theme_read(conn, filters, per_day)
    return {k: v for k, v in got.items() if sum(v.values()) > 0}
