"""Distribution, trend, period comparison, comments and follow-up figures — each one SQL aggregate."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Numeric, case, cast, func, literal_column, select
from sqlalchemy.sql.elements import ColumnElement

from core.reports.summary import DIMENSIONS, MIN_RESPONSES, Filters, Summary, _counts, _summary, summary
from core.scoring import difference_significant
from core.store import Store
from core.store.tables import SurveyRow
from core.store.theme_tables import ResponseThemeRow

S = SurveyRow.__table__
T = ResponseThemeRow.__table__
Bucket = Literal["day", "week", "month"]
BUCKETS: tuple[Bucket, ...] = ("day", "week", "month")


def significant(s: Summary, minimum: int = MIN_RESPONSES) -> bool:
    """Below `minimum` responses an NPS is shown with its count but flagged as not significant."""
    return s.significant(minimum)


async def distribution(store: Store, filters: Filters = Filters()) -> list[int]:
    """How many answered each score 0..10."""
    q = select(S.c.score, func.count()).where(S.c.score.is_not(None), *filters.where()).group_by(S.c.score)
    async with store.read() as conn:
        rows = (await conn.execute(q)).all()
    counts = [0] * 11
    for score, n in rows:
        counts[int(score)] = int(n)
    return counts


def _period(dialect: str, bucket: Bucket, col: Any = S.c.asked_at) -> ColumnElement[Any]:
    """The bucket's first day as YYYY-MM-DD in UTC; weeks start on Monday (ISO) on both backends."""
    if bucket not in BUCKETS:
        raise ValueError(f"unknown bucket {bucket!r}; choose one of {', '.join(BUCKETS)}")
    if dialect == "postgresql":
        return func.to_char(func.date_trunc(bucket, func.timezone("UTC", col)), literal_column("'YYYY-MM-DD'"))
    if bucket == "day":
        return func.strftime("%Y-%m-%d", col)
    if bucket == "month":
        return func.strftime("%Y-%m-01", col)
    return func.date(col, "-6 days", "weekday 1")  # the Monday that starts the ISO week


async def trend(store: Store, filters: Filters = Filters(), bucket: Bucket = "week") -> list[tuple[str, Summary]]:
    """NPS per day, week (starting Monday) or month of the question being asked, oldest first."""
    period = _period(store.dialect, bucket).label("period")
    q = select(period, *_counts()).where(S.c.asked_at.is_not(None), *filters.where()).group_by(period).order_by(period)
    async with store.read() as conn:
        rows = (await conn.execute(q)).all()
    return [(str(r.period), _summary(r)) for r in rows]


@dataclass(frozen=True, slots=True)
class Comparison:
    current: Summary
    previous: Summary
    significant: bool | None

    @property
    def change(self) -> float | None:
        a, b = self.current.result.nps, self.previous.result.nps
        return None if a is None or b is None else a - b


async def compare(
    store: Store, filters: Filters, since: datetime, until: datetime, minimum: int = MIN_RESPONSES
) -> Comparison:
    """This period against the one of equal length just before it.

    Significant means a two-sample z-test at 95 % on the NPS difference, each period with its own multinomial
    variance; a period below `minimum` responses never yields a significant change (the normal approximation
    does not hold there). None when either period has no responses.
    """
    length = until - since
    current = await summary(store, replace(filters, since=since, until=until))
    previous = await summary(store, replace(filters, since=since - length, until=since))
    verdict = difference_significant(current.result, previous.result)
    if verdict and not (current.significant(minimum) and previous.significant(minimum)):
        verdict = False
    return Comparison(current, previous, verdict)


async def comments(
    store: Store,
    filters: Filters = Filters(),
    *,
    category: str | None = None,
    search: str | None = None,
    theme: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Latest comments, newest first; `search` matches case-insensitively anywhere in the text, `theme` keeps the
    comments that mention that theme."""
    q = select(
        S.c.id, S.c.profile, S.c.channel, S.c.agent, S.c.team, S.c.score, S.c.category, S.c.comment, S.c.completed_at,
        S.c.customer_name, S.c.user_id,
    ).where(S.c.comment.is_not(None), *filters.where())  # fmt: skip
    if category:
        q = q.where(S.c.category == category)
    if theme:
        q = q.where(S.c.id.in_(select(T.c.survey_id).where(T.c.theme == theme)))
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        q = q.where(func.lower(S.c.comment).like(f"%{escaped.lower()}%", escape="\\"))
    q = q.order_by(S.c.completed_at.desc(), S.c.id.desc()).limit(limit).offset(offset)
    async with store.read() as conn:
        rows = (await conn.execute(q)).all()
    return [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r._mapping.items()} for r in rows]


def _seconds(dialect: str) -> ColumnElement[Any]:
    """Completion to resolution in seconds, rounded to the millisecond so both backends give the same figure."""
    if dialect == "postgresql":
        return func.round(cast(func.extract("epoch", S.c.resolved_at - S.c.completed_at), Numeric), 3)
    return func.round((func.julianday(S.c.resolved_at) - func.julianday(S.c.completed_at)) * 86400.0, 3)


async def followup_stats(store: Store, filters: Filters = Filters()) -> dict[str, Any]:
    """Open / claimed / resolved detractor follow-ups and the median time from completion to resolution."""
    base = [S.c.category == "detractor", S.c.state == "completed", *filters.where()]
    counts = select(
        func.coalesce(func.sum(case((S.c.resolved_at.is_(None) & S.c.claimed_at.is_(None), 1), else_=0)), 0),
        func.coalesce(func.sum(case((S.c.resolved_at.is_(None) & S.c.claimed_at.is_not(None), 1), else_=0)), 0),
        func.coalesce(func.sum(case((S.c.resolved_at.is_not(None), 1), else_=0)), 0),
    ).where(*base)
    seconds = _seconds(store.dialect).label("seconds")
    async with store.read() as conn:
        open_, claimed, resolved = (int(x) for x in (await conn.execute(counts)).one())
        median = None
        if resolved:
            ordered = select(seconds).where(*base, S.c.resolved_at.is_not(None)).order_by(seconds)
            lo = (await conn.execute(ordered.limit(1).offset((resolved - 1) // 2))).scalar_one()
            hi = (await conn.execute(ordered.limit(1).offset(resolved // 2))).scalar_one()
            median = (float(lo) + float(hi)) / 2
    return {"open": open_, "claimed": claimed, "resolved": resolved, "median_seconds_to_resolve": median}


async def dimension_values(store: Store, dimension: str, filters: Filters = Filters(), limit: int = 200) -> list[str]:
    """The values a dimension takes (for filter pickers), most frequent first; one GROUP BY, no rows loaded."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}; choose one of {', '.join(DIMENSIONS)}")
    col = S.c[dimension]
    q = (
        select(col)
        .where(col.is_not(None), *filters.where())
        .group_by(col)
        .order_by(func.count().desc(), col)
        .limit(limit)
    )
    async with store.read() as conn:
        return [str(v) for v in (await conn.execute(q)).scalars()]
