"""Distribution, trend, period comparison, comments and follow-up figures: counts from the report rollups
(core/reports/rollup_query.py), comments and the median time to resolve from raw rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select

from core.reports import followup_query as fq
from core.reports.planner import indexed
from core.reports.rollup_counts import day_counts, unasked_counts
from core.reports.rollup_query import by_period
from core.reports.summary import DIMENSIONS, MIN_RESPONSES, TALLY, Filters, Summary, _summary, summary
from core.scoring import difference_significant
from core.store import Store
from core.store.tables import SurveyRow
from core.store.theme_tables import ResponseThemeRow

S = SurveyRow.__table__
T = ResponseThemeRow.__table__
Bucket = Literal["day", "week", "month"]
BUCKETS: tuple[Bucket, ...] = ("day", "week", "month")
FOLLOWUPS = ("fu_open", "fu_claimed", "fu_resolved")


def significant(s: Summary, minimum: int = MIN_RESPONSES) -> bool:
    """Below `minimum` responses an NPS is shown with its count but flagged as not significant."""
    return s.significant(minimum)


async def distribution(store: Store, filters: Filters = Filters()) -> list[int]:
    """How many answered each score 0..10."""
    scores = [f"s{n}" for n in range(11)]
    async with store.read() as conn:
        got = (await day_counts(conn, filters, scores)).get((), {})
    return [got.get(name, 0) for name in scores]


def check_bucket(bucket: str) -> None:
    if bucket not in BUCKETS:
        raise ValueError(f"unknown bucket {bucket!r}; choose one of {', '.join(BUCKETS)}")


async def trend(store: Store, filters: Filters = Filters(), bucket: Bucket = "week") -> list[tuple[str, Summary]]:
    """NPS per day, week (starting Monday, ISO) or month of the question being asked in UTC, oldest first: day
    rows added up per bucket."""
    check_bucket(bucket)
    async with store.read() as conn:
        days = await day_counts(conn, filters, TALLY, per_day=True)
    periods = by_period(days, bucket)
    return [(key[0], _summary(periods[key])) for key in sorted(periods)]


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
    comments that mention that theme. Read newest first through the commented surveys' index, which holds the
    period's and the profile's columns; SQLite is told the index: it read every survey asked in a period through
    asked_at and sorted them (9.6 s of CPU for 90 days at 10M)."""
    rows_of = indexed(S, "ix_survey_commented")
    c = rows_of.c
    q = select(
        c.id, c.profile, c.channel, c.agent, c.team, c.score, c.category, c.comment, c.completed_at, c.customer_name,
        c.user_id,
    ).where(c.comment.is_not(None), *filters.where(rows_of))  # fmt: skip
    if category:
        q = q.where(c.category == category)
    if theme:
        q = q.where(c.id.in_(select(T.c.survey_id).where(T.c.theme == theme)))
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        q = q.where(func.lower(c.comment).like(f"%{escaped.lower()}%", escape="\\"))
    q = q.order_by(c.completed_at.desc(), c.id.desc()).limit(limit).offset(offset)
    async with store.read() as conn:
        rows = (await conn.execute(q)).all()
    return [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r._mapping.items()} for r in rows]


async def followup_stats(store: Store, filters: Filters = Filters()) -> dict[str, Any]:
    """Open / claimed / resolved detractor follow-ups (from the rollups) and the median time from completion to
    resolution. A median cannot be added up from counts: the follow-up rollup's histogram of resolution times says
    which bucket holds the middle one or two, and only that bucket's rows are read."""
    async with store.read() as conn:
        got = (await day_counts(conn, filters, FOLLOWUPS)).get((), {})
        open_, claimed, resolved = (got.get(name, 0) for name in FOLLOWUPS)
        median = None
        if resolved:
            durations = (await fq.counts(conn, filters, None, ("resolve",))).get((), {})
            n = fq.size(durations, "resolve")
            middle = sorted(set(fq.ranks(n, 5))) if n else []
            found = await fq.values_at(conn, filters, None, {(): durations}, {("resolve", ()): middle})
            values = [found[("resolve", (), rank)] for rank in middle]
            median = sum(values) / len(values) if values else None
    return {"open": open_, "claimed": claimed, "resolved": resolved, "median_seconds_to_resolve": median}


async def dimension_values(store: Store, dimension: str, filters: Filters = Filters(), limit: int = 200) -> list[str]:
    """The values a dimension takes (for filter pickers), most frequent first."""
    return (await dimension_options(store, (dimension,), filters, limit))[dimension]


async def dimension_options(
    store: Store, dimensions: Sequence[str], filters: Filters = Filters(), limit: int = 200
) -> dict[str, list[str]]:
    """dimension_values for several dimensions in one read: surveys asked from the rollups, grouped by every
    dimension asked for at once, and with no period the never-asked ones as well (one pass over them)."""
    for dimension in dimensions:
        if dimension not in DIMENSIONS:
            raise ValueError(f"unknown dimension {dimension!r}; choose one of {', '.join(DIMENSIONS)}")
    async with store.read() as conn:
        groups = {key: c["asked"] for key, c in (await day_counts(conn, filters, (), by=dimensions)).items()}
        if filters.since is None and filters.until is None:
            for key, n in (await unasked_counts(conn, filters, dimensions)).items():
                groups[key] = groups.get(key, 0) + n
    out: dict[str, list[str]] = {}
    for i, dimension in enumerate(dimensions):
        counts: dict[str, int] = {}
        for key, n in groups.items():
            if key[i] is not None:
                counts[str(key[i])] = counts.get(str(key[i]), 0) + n
        out[dimension] = sorted(counts, key=lambda v: (-counts[v], v))[:limit]
    return out
