"""Follow-up figures from report_followups (core/store/followup_rollup.py): counts per group read as the other
rollups are (a period's whole months from report_followup_months, its other whole UTC days from report_followups,
its partial first and last day from raw rows), the breaches that depend on "now" from the follow-ups still open (a
partial index), and exact percentiles of the claim and resolution times: the rollup's histograms say which bucket
holds each rank needed and its rank inside the bucket, then only those buckets' rows are read, from the durations'
rank indexes (core/reports/duration_ranks.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, case, false, func, or_, select, text, true
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from core import rollups as r
from core.reports import duration_ranks
from core.reports.planner import indexed
from core.reports.rollup_query import Measure, Span, _read, split
from core.reports.scope import Filters, half_open
from core.store.followup_rollup import SOURCE, completed_detractor, in_bucket, late
from core.store.rollup_tables import REPORT_FOLLOWUP_MONTHS, REPORT_FOLLOWUPS
from core.store.sla_tables import FollowUpSlaRow
from core.store.tables import FOLLOWUP_OPEN, FOLLOWUP_PROFILE, SurveyRow

S = SurveyRow.__table__
L = FollowUpSlaRow.__table__
FU = REPORT_FOLLOWUPS
MONTHS = REPORT_FOLLOWUP_MONTHS
Key = tuple[Any, ...]
Grouping = str | tuple[str, ...] | None  # a dimension, several, or None for everything
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


def _key(by: str | tuple[str, ...] | None, table: Any) -> list[Any]:
    """The key columns of a dimension, of several (a key of each's values, in order), or none (everything)."""
    dims = () if by is None else (by,) if isinstance(by, str) else by
    return [table.c[d] for d in dims]


def whole_months(span: Span) -> tuple[date | None, date | None] | None:
    """The whole calendar months [first, end) inside the span's whole days (None: unbounded), None when there is
    none."""
    if not span.days:
        return None
    first = span.first
    if first is not None and first.day != 1:
        first = (first.replace(day=1) + timedelta(days=31)).replace(day=1)
    end = None if span.end is None else span.end.replace(day=1)
    if first is not None and end is not None and first >= end:
        return None
    return first, end


def _day_ranges(span: Span, months: tuple[date | None, date | None] | None) -> list[ColumnElement[bool]]:
    """The whole days of the span outside its whole months, as conditions on report_followups' day (or-ed)."""
    if months is None:
        return [and_(*half_open(FU.c.day, span.first, span.end), true())] if span.days else []
    out = []
    if months[0] is not None and (span.first is None or span.first < months[0]):
        out.append(and_(*half_open(FU.c.day, span.first, months[0]), true()))
    if months[1] is not None and (span.end is None or months[1] < span.end):
        out.append(and_(*half_open(FU.c.day, months[1], span.end), true()))
    return out


async def counts(conn: AsyncConnection, filters: Filters, by: Grouping, histograms: Sequence[str]) -> dict[Key, Any]:
    """Completed detractors' counts (and the `histograms` asked for) per value of `by` (() for all; a tuple of each
    dimension's values for several), asked in the filters' period: its whole months from report_followup_months, its
    other whole days from report_followups, its partial first and last day from raw rows; groups without a detractor
    left out."""
    span = split(filters.since, filters.until)
    measures = _measures(tuple(histograms))
    parts = []
    for start, stop, day in span.partial:
        cond = [*completed_detractor(), *replace(filters, since=start, until=stop).where()]
        parts.append((SOURCE, cond, day))
    months = whole_months(span)
    got: dict[Key, Any] = {}
    if months is not None:
        cond = [*filters.matching(MONTHS), *half_open(MONTHS.c.day, *months)]
        got = await _read(conn, MONTHS, _key(by, MONTHS), cond, [], [], measures, False, span)
    days = _day_ranges(span, months)
    cond = [*filters.matching(FU), or_(*days) if days else false()]
    by_day = Span(bool(days), span.first, span.end, span.partial)
    for key, c in (await _read(conn, FU, _key(by, FU), cond, parts, _key(by, S), measures, False, by_day)).items():
        into = got.setdefault(key, dict.fromkeys(measures, 0))
        for name, n in c.items():
            into[name] += n
    return {k: v for k, v in got.items() if v["detractors"] > 0}


async def open_breaches(
    conn: AsyncConnection, filters: Filters, by: Grouping, now: datetime
) -> dict[Key, tuple[int, int]]:
    """Deadlines passed while the follow-up is still unclaimed (unresolved), per value of `by` (as `counts`): read
    from the follow-ups not yet claimed or resolved only (FOLLOWUP_OPEN's partial indexes) that have an SLA. With a
    profile and a period filtered, SQLite is told the index by profile (migration 0026): it read every survey of the
    profile in the period through ix_survey_report otherwise (1.8 s of CPU at 10M for 90 days)."""
    q = open_breaches_query(filters, by, now)
    return {tuple(row[:-2]): (int(row[-2] or 0), int(row[-1] or 0)) for row in (await conn.execute(q)).all()}


def open_breaches_query(filters: Filters, by: Grouping, now: datetime) -> Select[Any]:
    """The statement `open_breaches` runs: the groups' keys, then the claim and resolve breaches still open."""
    profiled = filters.profile is not None or filters.profiles is not None
    rows = indexed(S, FOLLOWUP_PROFILE) if profiled and filters.since is not None else S
    claim = (L.c.claim_due_at <= now) & rows.c.claimed_at.is_(None)
    resolve = (L.c.resolve_due_at <= now) & rows.c.resolved_at.is_(None)
    keys = _key(by, rows)
    sums = [func.sum(_flag(c)) for c in (claim, resolve)]
    q = select(*keys, *sums).select_from(rows.join(L, L.c.survey_id == rows.c.id))
    q = q.where(text(FOLLOWUP_OPEN), *filters.where(rows), or_(claim, resolve))
    return q.group_by(*keys) if keys else q


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


def needs(
    by: str | None, got: Mapping[Key, Mapping[str, int]], wanted: Wanted
) -> dict[duration_ranks.Need, tuple[str, Key, int, int]]:
    """Where each wanted rank of `by`'s groups is: (histogram, by, group, bucket, rank inside it) -> the rank, and
    how many of the group's durations the bucket holds."""
    out: dict[duration_ranks.Need, tuple[str, Key, int, int]] = {}
    for (name, group), wanted_ranks in wanted.items():
        histogram = [got[group].get(b, 0) for b in HISTOGRAMS[name][0]]
        for rank in wanted_ranks:
            bucket, inside = locate(histogram, rank)
            out[(name, by, group, bucket, inside)] = (name, group, rank, histogram[bucket])
    return out


def totals(got: Mapping[Key, Mapping[str, int]]) -> dict[tuple[str, int], int]:
    """How many durations each histogram's bucket holds over all groups."""
    out: dict[tuple[str, int], int] = {}
    for c in got.values():
        for name, (buckets, _) in HISTOGRAMS.items():
            for i, b in enumerate(buckets):
                out[(name, i)] = out.get((name, i), 0) + c.get(b, 0)
    return out


async def values_at(
    conn: AsyncConnection, filters: Filters, by: str | None, got: Mapping[Key, Mapping[str, int]], wanted: Wanted
) -> dict[tuple[str, Key, int], float]:
    """The value at each wanted rank: the histograms say the bucket and the rank inside it, then only that bucket's
    rows are read (core/reports/duration_ranks.py)."""
    placed = needs(by, got, wanted)
    sizes = {need: where[3] for need, where in placed.items()}
    found = await duration_ranks.values_in_buckets(conn, filters, (by,), list(placed), totals(got), sizes)
    return {placed[need][:3]: value for need, value in found.items()}
