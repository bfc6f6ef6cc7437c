"""Report counts from the rollups (core/store/rollup_tables.py): whole UTC days come from the per-day rows, the
partial first and last day of a period that does not start or end at midnight UTC from the raw rows (found through
the asked_at / created_at indexes), so each figure equals the aggregate over raw rows while its cost depends on
days × groups, not on rows.

A count is named once (`Measure`) with its two readings: the sum over rollup rows and the condition a raw row meets.
The rollup rows are read together with their change log's rows not folded yet (core/store/rollup_log_tables.py), in
one statement, so a fold running meanwhile is seen either whole or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import replacement_traverse

from core.question_status import REACHED, QuestionStatus
from core.reports.scope import Filters, half_open
from core.rollups import CATEGORIES
from core.store.rollup_log_tables import LOGS
from core.store.rollup_tables import ReportDayRow, ReportSkipRow, ReportThemeDayRow
from core.store.tables import SurveyRow
from core.store.theme_tables import ResponseThemeRow
from core.survey import State

S = SurveyRow.__table__
T = ResponseThemeRow.__table__
DAYS = ReportDayRow.__table__
SKIPS = ReportSkipRow.__table__
THEME_DAYS = ReportThemeDayRow.__table__
SKIPPED = str(State.SKIPPED)
NEVER_ASKED = (str(State.PENDING), str(State.OPTED_OUT))  # the states besides skipped a survey has before asking
UNKNOWN_REASON = "unknown"
Key = tuple[Any, ...]
Counts = dict[str, int]


@dataclass(frozen=True, slots=True)
class Measure:
    """One count: `rollup` sums columns of the rollup table, `raw` is the condition a raw row counts under."""

    rollup: tuple[str, ...]
    raw: ColumnElement[bool]


def _scores(low: int, high: int) -> tuple[str, ...]:
    return tuple(f"s{n}" for n in range(low, high + 1))


def _day_measures() -> dict[str, Measure]:
    answered = S.c.score.is_not(None)
    status = S.c.question_status
    reached = [str(s) for s in REACHED]
    failed = str(QuestionStatus.FAILED)
    done = (S.c.category == "detractor") & (S.c.state == "completed")
    commented = S.c.comment.is_not(None) & S.c.category.is_not(None)
    return {
        "asked": Measure(("asked",), S.c.asked_at.is_not(None)),
        "promoters": Measure(_scores(9, 10), S.c.category == "promoter"),
        "passives": Measure(_scores(7, 8), S.c.category == "passive"),
        "detractors": Measure(_scores(0, 6), S.c.category == "detractor"),
        "responses": Measure(_scores(0, 10), answered),
        **{f"s{n}": Measure((f"s{n}",), S.c.score == n) for n in range(11)},
        "commented": Measure(("commented",), commented),
        **{f"c_{c}": Measure((f"c_{c}",), commented & (S.c.category == c)) for c in CATEGORIES},
        "q_sent": Measure(("q_sent",), or_(status.is_not(None), S.c.question_ref.is_not(None), answered)),
        "q_reached": Measure(("q_reached",), or_(status.in_(reached), answered)),
        "q_failed": Measure(("q_failed",), status == failed),
        "q_reported": Measure(("q_reported",), status.in_([*reached, failed])),
        "fu_open": Measure(("fu_open",), done & S.c.resolved_at.is_(None) & S.c.claimed_at.is_(None)),
        "fu_claimed": Measure(("fu_claimed",), done & S.c.resolved_at.is_(None) & S.c.claimed_at.is_not(None)),
        "fu_resolved": Measure(("fu_resolved",), done & S.c.resolved_at.is_not(None)),
    }


DAY_MEASURES = _day_measures()
THEME_MEASURES = {
    "promoter": Measure(_scores(9, 10), T.c.category == "promoter"),
    "passive": Measure(_scores(7, 8), T.c.category == "passive"),
    "detractor": Measure(_scores(0, 6), T.c.category == "detractor"),
}


@dataclass(frozen=True, slots=True)
class Span:
    """A period split at UTC midnights: whole days [first, end) read from rollups (None: unbounded; `days` False
    when no whole day is in it) and the partial days read from raw rows, each inside one UTC day."""

    days: bool
    first: date | None
    end: date | None
    partial: tuple[tuple[datetime | None, datetime | None, date | None], ...]


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def split(since: datetime | None, until: datetime | None) -> Span:
    first = end = None
    head = tail = None
    if since is not None:
        since = _utc(since)
        first = since.date() if since == _midnight(since.date()) else since.date() + timedelta(days=1)
        if since != _midnight(first):
            head = (since, _midnight(first), since.date())
    if until is not None:
        until = _utc(until)
        end = until.date()
        if until != _midnight(end):
            tail = (_midnight(end), until, end)
    if first is not None and end is not None and first > end:  # both ends inside one day: all of it is raw
        return Span(False, None, None, ((since, until, since.date() if since else None),))
    parts = tuple(p for p in (head, tail) if p is not None)
    return Span(first is None or end is None or first < end, first, end, parts)


def _rollup_where(table: Any, filters: Filters, span: Span) -> list[ColumnElement[bool]]:
    return [*filters.matching(table), *half_open(table.c.day, span.first, span.end)]


def _key_value(value: Any) -> Any:
    return None if value == "" else value


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _add(out: dict[Key, Counts], key: Key, row: Mapping[str, Any], names: Sequence[str]) -> None:
    counts = out.setdefault(key, dict.fromkeys(names, 0))
    for name in names:
        counts[name] += int(row[name] or 0)


def _plus(table: Any, columns: Sequence[str]) -> ColumnElement[Any]:
    total: ColumnElement[Any] = table.c[columns[0]]
    for column in columns[1:]:
        total = total + table.c[column]
    return total


def _sum(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


async def _read(
    conn: AsyncConnection,
    rollup: Any,
    rollup_keys: Sequence[Any],
    rollup_cond: list[ColumnElement[bool]],
    raw_parts: Sequence[tuple[Any, list[ColumnElement[bool]], date | None]],
    raw_keys: Sequence[Any],
    measures: Mapping[str, Measure],
    per_day: bool,
    span: Span,
) -> dict[Key, Counts]:
    """The counts per key (the key columns' values, then the day when `per_day`) from both sources."""
    names = list(measures)
    out: dict[Key, Counts] = {}
    if span.days:
        grouped = [*rollup_keys, *([rollup.c.day] if per_day else [])]
        both = _with_log(rollup, grouped, rollup_cond, measures)
        keys = [both.c[f"k{i}"] for i in range(len(grouped))]
        q = select(*keys, *(func.sum(both.c[n]).label(n) for n in names))
        if keys:
            q = q.group_by(*keys)
        for row in (await conn.execute(q)).all():
            values = [_key_value(v) for v in row[: len(rollup_keys)]]
            key = (*values, _day(row[len(rollup_keys)])) if per_day else tuple(values)
            _add(out, key, row._mapping, names)
    for source, cond, day in raw_parts:
        q = select(*raw_keys, *[_sum(m.raw).label(n) for n, m in measures.items()]).select_from(source).where(*cond)
        if raw_keys:
            q = q.group_by(*raw_keys)
        for row in (await conn.execute(q)).all():
            values = tuple(row[: len(raw_keys)])
            _add(out, (*values, day) if per_day else values, row._mapping, names)
    return out


def _with_log(
    rollup: Any, keys: Sequence[Any], cond: Sequence[ColumnElement[bool]], measures: Mapping[str, Measure]
) -> Any:
    """rollup UNION ALL its change log, each summed by the `keys` (k0, k1, …) first: the `measures`' sums over the rows
    that meet `cond` (said of the rollup table). Grouped apart, the rollup's GROUP BY is planned from its own
    statistics (over the union PostgreSQL misjudges the groups and sorts on disk), and the log's is small."""
    log = LOGS[rollup.name]

    def on_log(element: Any) -> Any:
        return log.c[element.name] if getattr(element, "table", None) is rollup else None

    parts = []
    for table in (rollup, log):
        moved = (lambda e: e) if table is rollup else (lambda e: replacement_traverse(e, {}, on_log))
        grouped = [moved(k) for k in keys]
        sums = [func.sum(_plus(table, m.rollup)).label(n) for n, m in measures.items()]
        part = select(*(k.label(f"k{i}") for i, k in enumerate(grouped)), *sums).where(*(moved(c) for c in cond))
        parts.append(part.group_by(*grouped) if grouped else part)
    return union_all(*parts).subquery()


def _raw_filters(filters: Filters, start: datetime | None, stop: datetime | None) -> Filters:
    return replace(filters, since=start, until=stop)


async def day_read(
    conn: AsyncConnection, filters: Filters, names: Sequence[str], by: Sequence[str], per_day: bool
) -> dict[Key, Counts]:
    """day_counts' groups as read, those with nothing asked included."""
    span = split(filters.since, filters.until)
    measures = {n: DAY_MEASURES[n] for n in names}
    parts = [(S, _raw_filters(filters, a, b).where(), day) for a, b, day in span.partial]
    return await _read(
        conn, DAYS, [DAYS.c[d] for d in by], _rollup_where(DAYS, filters, span), parts, [S.c[d] for d in by],
        measures, per_day, span,
    )  # fmt: skip


async def skip_read(conn: AsyncConnection, filters: Filters, by: Sequence[str]) -> dict[Key, Counts]:
    """skip_counts' groups as read."""
    span = split(filters.since, filters.until)
    undated = replace(filters, since=None, until=None)
    measure = {"surveys": Measure(("surveys",), S.c.state == SKIPPED)}
    reason = func.coalesce(S.c.skip_reason, UNKNOWN_REASON)
    raw_keys = [reason if d == "reason" else S.c[d] for d in by]
    parts = []
    for start, stop, day in span.partial:
        cond = [S.c.state == SKIPPED, *undated.where()]
        if start is not None:
            cond.append(S.c.created_at >= start)
        if stop is not None:
            cond.append(S.c.created_at < stop)
        parts.append((S, cond, day))
    return await _read(
        conn, SKIPS, [SKIPS.c[d] for d in by], _rollup_where(SKIPS, filters, span), parts, raw_keys, measure,
        False, span,
    )  # fmt: skip


async def theme_read(conn: AsyncConnection, filters: Filters, per_day: bool) -> dict[Key, Counts]:
    """theme_counts' groups as read."""
    span = split(filters.since, filters.until)
    parts = []
    for start, stop, day in span.partial:
        asked = _raw_filters(filters, start, stop)
        # The period's surveys through the asked_at index, then their theme rows by primary key.
        parts.append((T, [T.c.survey_id.in_(select(S.c.id).where(*asked.where()))], day))
    return await _read(
        conn, THEME_DAYS, [THEME_DAYS.c.theme], _rollup_where(THEME_DAYS, filters, span), parts, [T.c.theme],
        THEME_MEASURES, per_day, span,
    )  # fmt: skip


def period_of(day: date, bucket: str) -> str:
    """The bucket's first day as YYYY-MM-DD: the day, its ISO week's Monday, or its month's first day."""
    if bucket == "week":
        day -= timedelta(days=day.weekday())
    elif bucket == "month":
        day = day.replace(day=1)
    return day.isoformat()


def by_period(per_day: Mapping[Key, Counts], bucket: str) -> dict[Key, Counts]:
    """Day rows (the day last in each key) added up per day, week or month: the key's day becomes the period."""
    out: dict[Key, Counts] = {}
    for key, counts in per_day.items():
        _add(out, (*key[:-1], period_of(key[-1], bucket)), counts, list(counts))
    return out
