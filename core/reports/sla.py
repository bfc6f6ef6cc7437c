"""The follow-up SLA report: per team, agent (or another dimension), how many completed detractors had an SLA,
how many missed their claim / resolve deadline, how many were escalated, and how long claiming and resolving took
(median and 90th percentile, counted from the alert). Aggregated in SQL: counts in one GROUP BY, and the
percentiles from the at most two ranked rows per group that each one needs (window functions on both backends,
interpolated as PostgreSQL's percentile_cont)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Numeric, and_, case, cast, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from core.reports.summary import DIMENSIONS, Filters
from core.store import Store
from core.store.sla_tables import FollowUpSlaRow
from core.store.tables import SurveyRow

S = SurveyRow.__table__
L = FollowUpSlaRow.__table__
SLA_DIMENSIONS = (*DIMENSIONS, "claimed_by")
PERCENTILES = {"median": 5, "p90": 9}  # tenths


def _seconds(dialect: str, end: ColumnElement[Any]) -> ColumnElement[Any]:
    """From the alert (completion) to `end` in seconds, rounded to the millisecond on both backends."""
    if dialect == "postgresql":
        return func.round(cast(func.extract("epoch", end - S.c.completed_at), Numeric), 3)
    return func.round((func.julianday(end) - func.julianday(S.c.completed_at)) * 86400.0, 3)


def _base(filters: Filters) -> list[ColumnElement[bool]]:
    return [S.c.category == "detractor", S.c.state == "completed", *filters.where()]


def _sum(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _counts(now: datetime) -> list[ColumnElement[Any]]:
    """A deadline is breached once it passed without the claim (resolution), or that came after it."""
    claim_late = and_(
        L.c.claim_due_at.is_not(None),
        or_(S.c.claimed_at > L.c.claim_due_at, and_(S.c.claimed_at.is_(None), L.c.claim_due_at <= now)),
    )
    resolve_late = and_(
        L.c.resolve_due_at.is_not(None),
        or_(S.c.resolved_at > L.c.resolve_due_at, and_(S.c.resolved_at.is_(None), L.c.resolve_due_at <= now)),
    )
    return [
        func.count().label("detractors"),
        _sum(L.c.survey_id.is_not(None)).label("with_sla"),
        _sum(claim_late).label("claim_breaches"),
        _sum(resolve_late).label("resolve_breaches"),
        (_sum(L.c.claim_escalated_at.is_not(None)) + _sum(L.c.resolve_escalated_at.is_not(None))).label("escalations"),
        _sum(S.c.claimed_at.is_not(None)).label("claimed"),
        _sum(S.c.resolved_at.is_not(None)).label("resolved"),
    ]


async def _percentiles(
    conn: Any, dialect: str, key: ColumnElement[Any] | None, end: ColumnElement[Any], filters: Filters
) -> dict[Any, dict[str, float]]:
    """Median and p90 of the seconds to `end` per group: rank each group's values, keep the ranks each percentile
    reads (positions p·(n−1), rounded down and up), interpolate between them."""
    seconds = _seconds(dialect, end)
    partition = {"partition_by": key} if key is not None else {}
    ranked = select(
        *([key.label("k")] if key is not None else []),
        seconds.label("s"),
        func.row_number().over(order_by=seconds, **partition).label("rn"),
        func.count().over(**partition).label("n"),
    ).where(*_base(filters), end.is_not(None))
    r = ranked.subquery()
    wanted = []
    for tenths in PERCENTILES.values():
        low = (r.c.n - 1) * tenths // 10
        wanted += [r.c.rn == low + 1, r.c.rn == low + 2]
    columns = [r.c.k] if key is not None else []
    rows = (await conn.execute(select(*columns, r.c.s, r.c.rn, r.c.n).where(or_(*wanted)))).all()
    by_group: dict[Any, dict[int, float]] = {}
    sizes: dict[Any, int] = {}
    for row in rows:
        group = row.k if key is not None else None
        by_group.setdefault(group, {})[int(row.rn)] = float(row.s)
        sizes[group] = int(row.n)
    out: dict[Any, dict[str, float]] = {}
    for group, values in by_group.items():
        n = sizes[group]
        out[group] = {}
        for name, tenths in PERCENTILES.items():
            position = (n - 1) * tenths
            low = position // 10 + 1
            high = low + (1 if position % 10 else 0)
            fraction = (position % 10) / 10
            out[group][name] = round(values[low] + (values[high] - values[low]) * fraction, 3)
    return out


async def sla_report(store: Store, filters: Filters, now: datetime, by: str | None = None) -> list[dict[str, Any]]:
    """One row per value of `by`, most detractors first; None: exactly one row, for everything."""
    if by is not None and by not in SLA_DIMENSIONS:
        raise ValueError(f"unknown dimension {by!r}; choose one of {', '.join(SLA_DIMENSIONS)}")
    key = None if by is None else S.c[by]
    joined = S.outerjoin(L, L.c.survey_id == S.c.id)
    q = select(*([key.label("k")] if key is not None else []), *_counts(now)).select_from(joined)
    q = q.where(*_base(filters))
    if key is not None:
        q = q.group_by(key)
    async with store.read() as conn:
        rows = (await conn.execute(q)).all()
        claim = await _percentiles(conn, store.dialect, key, S.c.claimed_at, filters)
        resolve = await _percentiles(conn, store.dialect, key, S.c.resolved_at, filters)
    out = []
    for row in rows:
        group = row.k if key is not None else None
        if key is not None and int(row.detractors) == 0:
            continue
        item: dict[str, Any] = {"key": group} if key is not None else {}
        item |= {name: int(getattr(row, name)) for name in (
            "detractors", "with_sla", "claim_breaches", "resolve_breaches", "escalations", "claimed", "resolved",
        )}  # fmt: skip
        for measure, values in (("claim", claim), ("resolve", resolve)):
            found = values.get(group, {})
            for name in PERCENTILES:
                item[f"{measure}_{name}_seconds"] = found.get(name)
        out.append(item)
    return sorted(out, key=lambda r: (-r["detractors"], str(r.get("key"))))
