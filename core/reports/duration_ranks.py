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
from math import ceil, floor
from typing import Any

from sqlalchemy import BigInteger, Column, cast, func, literal, literal_column, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import replacement_traverse

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


def _span(column: ColumnElement[Any], bucket: int, parts: int, first: int, last: int) -> list[ColumnElement[bool]]:
    """A range of durations holding sub-ranges `first` to `last` (a little more: a row's millisecond is rounded), for
    the index; which rows are in them is said by `_part` alone."""
    low, high = bucket_range(bucket)
    assert low is not None and high is not None
    width = ceil((high - low) * 1000 / parts)
    return [column >= (low * 1000 + first * width - 1) / 1000, column < (low * 1000 + (last + 1) * width + 1) / 1000]


def _unindexed(condition: ColumnElement[bool]) -> Any:
    """`condition` with its columns written `+surveys.<column>`, which SQLite cannot look up in an index: SQLite would
    rather take a filter's index (one profile's quarter: half a million rows looked up in the table) than the
    duration's rank index (one bucket's entries, read from the index alone)."""

    def plus(element: Any) -> Any:
        if isinstance(element, Column) and element.table is S:
            return literal_column(f"+{S.name}.{element.name}", type_=element.type)
        return None

    return replacement_traverse(condition, {}, plus)


def _rows(name: str, bucket: int, filters: Filters, dialect: str) -> list[ColumnElement[bool]]:
    """The conditions of bucket `bucket`'s durations of the filtered completed detractors: the rank index's rows."""
    column = COLUMNS[name]
    low, high = bucket_range(bucket)
    cond: list[Any] = [
        text(ranked(column.name)),
        *(filters.where() if dialect != "sqlite" else map(_unindexed, filters.where())),
    ]
    if low is not None:
        cond.append(column >= low)
    if high is not None:
        cond.append(column < high)
    return cond


By = str | None  # a grouping: a dimension, or None for everything
Need = tuple[str, By, Key, int, int]  # (histogram, grouping, group, bucket, rank inside the bucket)
Totals = Mapping[tuple[str, int], int]  # (histogram, bucket) -> durations of all groups in it


def _group(by: By, dims: Sequence[str], row: Any) -> Key:
    return () if by is None else (row[f"k{dims.index(by)}"],)


Ranges = Mapping[tuple[str, int], Sequence[tuple[int | None, int | None]]]  # cut bucket -> sub-ranges [from, to)


async def _counts(
    conn: AsyncConnection, filters: Filters, groupings: Sequence[By], cut: Mapping[tuple[str, int], int], ranges: Ranges
) -> dict[tuple[str, int, By, Key], list[tuple[int, int]]]:
    """Per cut bucket, grouping and group: (sub-range, durations in it), in sub-range order, for the sub-ranges in
    `ranges`. One read counts by every grouping's dimension at once; the groupings' sums are made here."""
    dims = [d for d in dict.fromkeys(groupings) if d is not None]
    keys = [S.c[d].label(f"k{i}") for i, d in enumerate(dims)]
    selects = []
    for (name, bucket), spans in ranges.items():
        column, parts = COLUMNS[name], cut[(name, bucket)]
        part = _part(column, bucket, parts)
        for first, end in spans:
            cond = _rows(name, bucket, filters, conn.dialect.name)
            if first is not None:
                cond += [_span(column, bucket, parts, first, parts)[0], part >= first]
            if end is not None:
                cond += [_span(column, bucket, parts, 0, end - 1)[1], part < end]
            q = select(literal(name).label("m"), literal(bucket).label("b"), *keys, part.label("p"),
                       func.count().label("n")).where(*cond)  # fmt: skip
            selects.append(q.group_by(*(S.c[d] for d in dims), part))
    summed: dict[tuple[str, int, By, Key], dict[int, int]] = {}
    if not selects:
        return {}
    q = selects[0] if len(selects) == 1 else union_all(*selects)
    for row in (await conn.execute(q)).mappings().all():
        for by in groupings:
            into = summed.setdefault((row["m"], int(row["b"]), by, _group(by, dims, row)), {})
            into[int(row["p"])] = into.get(int(row["p"]), 0) + int(row["n"])
    return {k: sorted(v.items()) for k, v in summed.items()}


MARGIN = 8  # a count reaches this fraction of a bucket's sub-ranges beyond where a rank is estimated to be (1/8)


def _sides(parts: int, fractions: Sequence[float]) -> list[tuple[int | None, int | None]]:
    """Which sub-ranges of a bucket to count for ranks at these fractions of their groups' durations in it: from the
    bottom up to a little past the highest rank in the lower half (durations spread evenly), from a little before
    the lowest rank in the upper half to the top; the whole bucket when the two meet."""
    lower, upper = [f for f in fractions if f <= 0.5], [f for f in fractions if f > 0.5]
    margin = parts // MARGIN + 1
    end = min(parts + 1, ceil(max(lower) * parts) + margin) if lower else None
    first = max(0, floor(min(upper) * parts) - margin) if upper else None
    if end is not None and first is not None and first <= end:
        return [(None, None)]
    return [*([(None, end)] if end is not None else []), *([(first, None)] if first is not None else [])]


def _place(counted: Sequence[tuple[int, int]], side: tuple[int | None, int | None], inside: int, size: int) -> Any:
    """The sub-range holding the bucket's `inside`-th duration of `size` and its rank there, from the counts of one
    side (from the bottom: ascending; to the top: descending, counted from the top); None when it is not there."""
    first, end = side
    if first is None:  # counted from the bottom (to `end`, or all of it)
        seen = 0
        for part, n in counted:
            if end is not None and part >= end:
                break
            if inside <= seen + n:
                return part, inside - seen
            seen += n
        return None
    from_top, seen = size - inside + 1, 0
    for part, n in reversed(counted):
        if part < first:
            break
        if from_top <= seen + n:
            return part, n - (from_top - seen) + 1
        seen += n
    return None


def _numbered(column: ColumnElement[Any], by: By, within: Sequence[Any]) -> Any:
    """A row's rank among its group's durations (in its sub-range, when the bucket is cut)."""
    partition = [*([] if by is None else [S.c[by]]), *within]
    return func.row_number().over(partition_by=partition or None, order_by=column)


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
    groupings: Sequence[By],
    needs: Sequence[Need],
    totals: Totals,
    sizes: Mapping[Need, int],
) -> dict[Need, float]:
    """The duration at each needed (histogram, grouping, group, bucket, rank inside it), for all `groupings` in two
    reads (three when durations are spread far from evenly); `totals` is how many durations of all groups each
    bucket holds (it decides how finely it is cut), `sizes` how many of the need's group."""
    if not needs:
        return {}
    if conn.dialect.name == "postgresql":  # compiling these short reads would take longer than running them
        await conn.execute(text("SET LOCAL jit = off"))
    cut = {
        (name, bucket): _parts(totals.get((name, bucket), 0), *bucket_range(bucket)) for name, _, _, bucket, _ in needs
    }
    fractions: dict[tuple[str, int], list[float]] = {}
    for need in needs:
        fractions.setdefault((need[0], need[3]), []).append(need[4] / max(1, sizes[need]))
    ranges = {k: _sides(p, fractions[k]) for k, p in cut.items() if p > 1}
    counted = await _counts(conn, filters, groupings, cut, ranges)
    placed: dict[Need, tuple[int, int]] = {}  # the need's sub-range and rank there
    missed = []
    for need in needs:
        name, by, group, bucket, inside = need
        if cut[(name, bucket)] == 1:
            placed[need] = (0, inside)
            continue
        found = counted.get((name, bucket, by, group), [])
        side = next((s for s in ranges[(name, bucket)] if (s[0] is None) == (inside / max(1, sizes[need]) <= 0.5)),
                    ranges[(name, bucket)][0])  # fmt: skip
        at = _place(found, side, inside, sizes[need])
        if at is None:  # the durations were not spread evenly enough: the whole bucket is counted
            missed.append(need)
        else:
            placed[need] = at
    if missed:
        again = {(n[0], n[3]): [(None, None)] for n in missed}
        recounted = await _counts(conn, filters, groupings, cut, again)
        for need in missed:
            placed[need] = _within(recounted[(need[0], need[3], need[1], need[2])], need[4])
    dims = [d for d in dict.fromkeys(groupings) if d is not None]
    keys = [S.c[d].label(f"k{i}") for i, d in enumerate(dims)]
    selects = []
    for name, by, bucket in dict.fromkeys((n[0], n[1], n[3]) for n in needs):  # each grouping ranks its own rows
        column, parts = COLUMNS[name], cut[(name, bucket)]
        mine = [n for n in needs if (n[0], n[1], n[3]) == (name, by, bucket)]
        cond = _rows(name, bucket, filters, conn.dialect.name)
        part: ColumnElement[Any] = literal(0, BigInteger)
        if parts > 1:
            part = _part(column, bucket, parts)
            wanted = sorted({placed[n][0] for n in mine})
            cond += [*_span(column, bucket, parts, wanted[0], wanted[-1]), part.in_(wanted)]
        rank = _numbered(column, by, [] if parts == 1 else [part])
        sub = select(literal(name).label("m"), literal(groupings.index(by)).label("g"), literal(bucket).label("b"),
                     *keys, part.label("p"), column.label("s"), rank.label("rn")).where(*cond).subquery()  # fmt: skip
        selects.append(select(sub).where(sub.c.rn.in_(sorted({placed[n][1] for n in mine}))))
    q = selects[0] if len(selects) == 1 else union_all(*selects)
    found: dict[tuple[str, int, By, Key, int, int], float] = {}
    for row in (await conn.execute(q)).mappings().all():
        by = groupings[row["g"]]
        found[(row["m"], int(row["b"]), by, _group(by, dims, row), int(row["p"]), int(row["rn"]))] = float(row["s"])
    return {need: found[(need[0], need[3], need[1], need[2], *placed[need])] for need in needs}
