"""Follow-up figures from report_followups (core/store/followup_rollup.py): counts per group read as the other
rollups are (whole UTC days from rollup rows, a period's partial first and last day from raw rows), the breaches
that depend on "now" from the follow-ups still open (a partial index), and exact percentiles of the claim and
resolution times in two steps: the rollup's histograms say which bucket holds each rank needed and its rank inside
the bucket, then only those buckets' rows are read (through the stored durations' indexes), in one query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import case, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from core import rollups as r
from core.reports import duration_ranks
from core.reports.rollup_query import Measure, _read, _rollup_where, split
from core.reports.scope import Filters
from core.store.followup_rollup import SOURCE, completed_detractor, in_bucket, late
from core.store.rollup_tables import REPORT_FOLLOWUPS
from core.store.sla_tables import FollowUpSlaRow
from core.store.tables import FOLLOWUP_OPEN, SurveyRow

S = SurveyRow.__table__
L = FollowUpSlaRow.__table__
FU = REPORT_FOLLOWUPS
Key = tuple[Any, ...]
HISTOGRAMS = {"claim": (r.CLAIM_BUCKETS, S.c.claim_seconds), "resolve": (r.RESOLVE_BUCKETS, S.c.resolve_seconds)}


@cache
def _measures(histograms: tuple[str, ...]) -> dict[str, Measure]:
    """Built once per set of histograms: ninety-odd bucket conditions cost more to build than to run."""
    out = {
        "detractors": Measure(("detractors",), S.c.id.is_not(None)),
        "with_sla": Measure(("with_sla",), L.c.survey_id.is_not(None)),
        "claimed": Measure(("claimed",), S.c.claimed_at.is_not(None)),
        "resolved": Measure(("resolved",), S.c.resolved_at.is_not(None)),
        "claim_late": Measure(("claim_late",), late(S.c.claimed_at, L.c.claim_due_at)),
        "resolve_late": Measure(("resolve_late",), late(S.c.resolved_at, L.c.resolve_due_at)),
        "claim_escalated": Measure(("claim_escalated",), L.c.claim_escalated_at.is_not(None)),
        "resolve_escalated": Measure(("resolve_escalated",), L.c.resolve_escalated_at.is_not(None)),
    }
    for name in histograms:
        names, column = HISTOGRAMS[name]
        out |= {b: Measure((b,), in_bucket(column, i)) for i, b in enumerate(names)}
    return out


def _key(by: str | None, table: Any) -> list[Any]:
    return [] if by is None else [table.c[by]]


async def counts(conn: AsyncConnection, filters: Filters, by: str | None, histograms: Sequence[str]) -> dict[Key, Any]:
    """Completed detractors' counts (and the `histograms` asked for) per value of `by` (() for all), asked in the
    filters' period; groups without a detractor left out."""
    span = split(filters.since, filters.until)
    parts = []
    for start, stop, day in span.partial:
        cond = [*completed_detractor(), *replace(filters, since=start, until=stop).where()]
        parts.append((SOURCE, cond, day))
    got = await _read(
        conn, FU, _key(by, FU), _rollup_where(FU, filters, span), parts, _key(by, S), _measures(tuple(histograms)),
        False, span,
    )  # fmt: skip
    return {k: v for k, v in got.items() if v["detractors"] > 0}


async def open_breaches(
    conn: AsyncConnection, filters: Filters, by: str | None, now: datetime
) -> dict[Key, tuple[int, int]]:
    """Deadlines passed while the follow-up is still unclaimed (unresolved), per value of `by`: read from the
    follow-ups not yet claimed or resolved only (FOLLOWUP_OPEN's partial index) that have an SLA."""
    claim = (L.c.claim_due_at <= now) & S.c.claimed_at.is_(None)
    resolve = (L.c.resolve_due_at <= now) & S.c.resolved_at.is_(None)
    keys = _key(by, S)
    sums = [func.sum(_flag(c)) for c in (claim, resolve)]
    q = select(*keys, *sums).select_from(S.join(L, L.c.survey_id == S.c.id))
    q = q.where(text(FOLLOWUP_OPEN), *filters.where(), or_(claim, resolve))
    if keys:
        q = q.group_by(*keys)
    return {tuple(row[: len(keys)]): (int(row[-2] or 0), int(row[-1] or 0)) for row in (await conn.execute(q)).all()}


def _flag(condition: ColumnElement[bool]) -> Any:
    return case((condition, 1), else_=0)


def size(counts: Mapping[str, int], histogram: str) -> int:
    """How many durations a group's histogram holds."""
    return sum(counts.get(b, 0) for b in HISTOGRAMS[histogram][0])


def ranks(n: int, tenths: int) -> tuple[int, int]:
    """The 1-based ranks position p·(n−1) lies between (equal when it is a whole rank), as percentile_cont reads."""
    position = (n - 1) * tenths
    low = position // 10 + 1
    return low, low + (1 if position % 10 else 0)


def locate(histogram: Sequence[int], rank: int) -> tuple[int, int]:
    """The bucket holding the `rank`-th smallest value and its rank inside the bucket."""
    seen = 0
    for i, n in enumerate(histogram):
        if rank <= seen + n:
            return i, rank - seen
        seen += n
    raise ValueError(f"rank {rank} beyond {seen} values")


Wanted = Mapping[tuple[str, Key], Sequence[int]]  # (histogram, group) -> the ranks needed


async def values_at(
    conn: AsyncConnection, filters: Filters, by: str | None, got: Mapping[Key, Mapping[str, int]], wanted: Wanted
) -> dict[tuple[str, Key, int], float]:
    """The value at each wanted rank: the histograms say the bucket and the rank inside it, then only that bucket's
    rows are read (core/reports/duration_ranks.py)."""
    needs: dict[duration_ranks.Need, tuple[str, Key, int]] = {}
    totals: dict[tuple[str, int], int] = {}
    for (name, group), wanted_ranks in wanted.items():
        histogram = [got[group].get(b, 0) for b in HISTOGRAMS[name][0]]
        for rank in wanted_ranks:
            bucket, inside = locate(histogram, rank)
            needs[(name, group, bucket, inside)] = (name, group, rank)
    for c in got.values():
        for name, (buckets, _) in HISTOGRAMS.items():
            for i, b in enumerate(buckets):
                totals[(name, i)] = totals.get((name, i), 0) + c.get(b, 0)
    found = await duration_ranks.values_in_buckets(conn, filters, by, list(needs), totals)
    return {needs[need]: value for need, value in found.items()}
