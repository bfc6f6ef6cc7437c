"""The exact claim or resolution time at given ranks of a group's durations, once the rollup's histogram has said which
bucket holds each rank and its rank inside the bucket (core/reports/followup_query.py).

A bucket can hold a tenth of all durations, too many to rank. So a wide bucket is cut into equal sub-ranges of whole
milliseconds first: one query counts each group's durations per sub-range (read from the durations' rank indexes of
migration 0021 alone, no sort), which says the sub-range each rank falls in and its rank there; a second query ranks
the rows of those sub-ranges only. Both compute a row's sub-range with the same integer expression, so they agree
exactly on where each row belongs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import ceil
from typing import Any

from sqlalchemy import BigInteger, cast, func, literal, null, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from core.reports.scope import Filters
from core.store.followup_rollup import bucket_range
from core.store.tables import SurveyRow, ranked

S = SurveyRow.__table__
Key = tuple[Any, ...]
COLUMNS = {"claim": S.c.claim_seconds, "resolve": S.c.resolve_seconds}
ROWS_PER_PART = 2000  # about how many durations (of all groups) a sub-range holds
MAX_PARTS = 256


def _parts(total: int, low: int | None, high: int | None) -> int:
    """Into how many sub-ranges a bucket holding `total` durations is cut (1: ranked whole)."""
    if low is None or high is None:  # an open end: no width to cut
        return 1
    return max(1, min(MAX_PARTS, ceil(total / ROWS_PER_PART), (high - low) * 1000))


def _part(column: ColumnElement[Any], bucket: int, parts: int) -> ColumnElement[Any]:
    """The sub-range of the bucket a duration is in: whole milliseconds from the bucket's start over the width of a
    sub-range, in integers on both backends."""
    low, high = bucket_range(bucket)
    assert low is not None and high is not None and parts > 1
    width = ceil((high - low) * 1000 / parts)
    return (cast(func.round(column * 1000), BigInteger) - low * 1000) // width


def _rows(name: str, bucket: int, filters: Filters, by: str | None) -> tuple[list[Any], list[Any]]:
    """The group key (none for everything) and the conditions of bucket `bucket`'s durations of the filtered completed
    detractors: the rank index's rows, the key read from it too."""
    column = COLUMNS[name]
    low, high = bucket_range(bucket)
    cond: list[Any] = [text(ranked(column.name)), *filters.where()]
    if low is not None:
        cond.append(column >= low)
    if high is not None:
        cond.append(column < high)
    return ([] if by is None else [S.c[by]]), cond


def _labelled(keys: Sequence[Any]) -> Any:
    return keys[0].label("k") if keys else null().label("k")


Need = tuple[str, Key, int, int]  # (histogram, group, bucket, rank inside the bucket)
Totals = Mapping[tuple[str, int], int]  # (histogram, bucket) -> durations of all groups in it


async def _counts(
    conn: AsyncConnection, filters: Filters, by: str | None, cut: Mapping[tuple[str, int], int]
) -> dict[tuple[str, int, Key], list[tuple[int, int]]]:
    """Per cut bucket and group: (sub-range, durations in it), in sub-range order."""
    selects = []
    for (name, bucket), parts in cut.items():
        keys, cond = _rows(name, bucket, filters, by)
        part = _part(COLUMNS[name], bucket, parts)
        q = select(literal(name).label("m"), literal(bucket).label("b"), _labelled(keys), part.label("p"),
                   func.count().label("n")).where(*cond).group_by(*keys, part)  # fmt: skip
        selects.append(q)
    out: dict[tuple[str, int, Key], list[tuple[int, int]]] = {}
    if not selects:
        return out
    q = selects[0] if len(selects) == 1 else union_all(*selects)
    for row in (await conn.execute(q)).all():
        group = () if by is None else (row.k,)
        out.setdefault((row.m, int(row.b), group), []).append((int(row.p), int(row.n)))
    for parts in out.values():
        parts.sort()
    return out


def _within(parts: Sequence[tuple[int, int]], inside: int) -> tuple[int, int]:
    """The sub-range holding the bucket's `inside`-th duration, and its rank there."""
    seen = 0
    for part, n in parts:
        if inside <= seen + n:
            return part, inside - seen
        seen += n
    raise ValueError(f"rank {inside} beyond {seen} durations")


async def values_in_buckets(
    conn: AsyncConnection,
    filters: Filters,
    by: str | None,
    needs: Sequence[Need],
    totals: Mapping[tuple[str, int], int],
) -> dict[Need, float]:
    """The duration at each needed (histogram, group, bucket, rank inside it); `totals` is how many durations of all
    groups each bucket holds (it decides how finely the bucket is cut)."""
    if not needs:
        return {}
    cut = {}
    for name, _, bucket, _ in needs:
        cut[(name, bucket)] = _parts(totals.get((name, bucket), 0), *bucket_range(bucket))
    counted = await _counts(conn, filters, by, {k: p for k, p in cut.items() if p > 1})
    # (histogram, bucket) -> sub-range -> ranks inside it, per group
    ranks: dict[tuple[str, int], dict[int, set[int]]] = {}
    placed: dict[Need, tuple[int, int]] = {}
    for need in needs:
        name, group, bucket, inside = need
        part, rank = (0, inside) if cut[(name, bucket)] == 1 else _within(counted[(name, bucket, group)], inside)
        placed[need] = (part, rank)
        ranks.setdefault((name, bucket), {}).setdefault(part, set()).add(rank)
    selects = []
    for (name, bucket), wanted in ranks.items():
        column = COLUMNS[name]
        keys, cond = _rows(name, bucket, filters, by)
        partition = list(keys)
        if cut[(name, bucket)] > 1:
            part = _part(column, bucket, cut[(name, bucket)])
            cond.append(part.in_(sorted(wanted)))
            partition.append(part)
        else:
            part = literal(0, BigInteger)
        rn = func.row_number().over(partition_by=partition or None, order_by=column)
        sub = select(literal(name).label("m"), literal(bucket).label("b"), _labelled(keys), part.label("p"),
                     column.label("s"), rn.label("rn")).where(*cond).subquery()  # fmt: skip
        every = sorted({r for rs in wanted.values() for r in rs})
        selects.append(select(sub).where(sub.c.rn.in_(every)))
    q = selects[0] if len(selects) == 1 else union_all(*selects)
    found: dict[tuple[str, int, Key, int, int], float] = {}
    for row in (await conn.execute(q)).all():
        group = () if by is None else (row.k,)
        found[(row.m, int(row.b), group, int(row.p), int(row.rn))] = float(row.s)
    return {need: found[(need[0], need[2], need[1], *placed[need])] for need in needs}
