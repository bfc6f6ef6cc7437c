"""The report rollups' registry and their rules in SQL (core/rollups.py says the rules in Python): which tables
there are (`TABLES`), the order every transaction touches them in (`ORDER`), their keys and counters, their change
logs, and the grouped SELECT / upsert that count surveys into them. A new rollup table is registered here; the
pending changes written at commit, recounts, rebuilds and the change log's fold then cover it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Date, Integer, and_, case, cast, func, literal, select, true
from sqlalchemy.sql.elements import ColumnElement

from core import rollups as r
from core.store import followup_rollup
from core.store.inserts import dialect_insert
from core.store.rollup_log_tables import LOGS as _LOGS
from core.store.rollup_tables import (
    REPORT_FOLLOWUP_MONTHS,
    REPORT_FOLLOWUPS,
    ReportDayRow,
    ReportSkipRow,
    ReportThemeDayRow,
)
from core.store.tables import SurveyRow
from core.store.theme_tables import ResponseThemeRow
from core.survey import State

S = SurveyRow.__table__
T = ResponseThemeRow.__table__
EXTRAS = r.EXTRAS
DAYS, SKIPS, THEMES = ReportDayRow.__table__, ReportSkipRow.__table__, ReportThemeDayRow.__table__
TABLES = {"report_days": DAYS, "report_skips": SKIPS, "report_theme_days": THEMES}
TABLES["report_followups"] = REPORT_FOLLOWUPS  # completed detractors' follow-ups (core/store/followup_rollup.py)
TABLES["report_followup_months"] = REPORT_FOLLOWUP_MONTHS  # the same per month
ORDER = tuple(TABLES)  # every transaction touches the rollups in this order
KEYS = {
    "report_days": ("day", *r.DIMENSIONS),
    "report_skips": ("day", *r.DIMENSIONS, "reason"),
    "report_theme_days": ("day", *r.DIMENSIONS, "theme"),
    "report_followups": ("day", *r.DIMENSIONS, "claimed_by"),
    "report_followup_months": ("day", *r.DIMENSIONS, "claimed_by"),
}
COUNTERS = {"report_days": r.DAY_COUNTERS, "report_skips": ("surveys",), "report_theme_days": r.SCORES}
COUNTERS["report_followups"] = COUNTERS["report_followup_months"] = r.FOLLOWUP_COUNTERS
# A table kept wherever the one it follows is: a write (or recount) naming report_followups changes its months too.
FOLLOWS = {"report_followup_months": "report_followups"}
LOGS = {name: _LOGS[name] for name in TABLES}  # each rollup table's change log: what writes append to
_FLAG = Integer()


# ---- the rules in SQL (core/rollups.py says them in Python)


def utc_day(dialect: str, column: Any) -> ColumnElement[Any]:
    """The UTC date of a timestamp, as the rollups' `day` stores it."""
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def utc_month(dialect: str, column: Any) -> ColumnElement[Any]:
    """The first day of a timestamp's UTC month, as report_followup_months' `day` stores it."""
    if dialect == "postgresql":
        return cast(func.date_trunc("month", func.timezone("UTC", column)), Date)
    return func.date(column, "start of month")


def with_followers(tables: Sequence[str]) -> tuple[str, ...]:
    """`tables` and the tables that follow any of them (FOLLOWS)."""
    return (*tables, *(t for t, followed in FOLLOWS.items() if followed in tables and t not in tables))


def _flag(condition: Any) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def day_counters(row: Mapping[str, Any]) -> dict[str, ColumnElement[int]]:
    """report_days' counters of one asked survey as SQL; `row` maps the columns read (score, category, comment,
    state and core.rollups.EXTRAS) to expressions: the row's columns, or bound values."""
    score, status, category = row["score"], row["question_status"], row["category"]
    answered = score.is_not(None)
    detractor = and_(category == "detractor", row["state"] == str(State.COMPLETED))
    resolved, claimed = row["resolved_at"].is_not(None), row["claimed_at"].is_not(None)
    commented = and_(row["comment"].is_not(None), category.is_not(None))
    return {
        "asked": literal(1, _FLAG),
        **{f"s{n}": _flag(score == n) for n in range(11)},
        "commented": _flag(commented),
        **{f"c_{c}": _flag(and_(commented, category == c)) for c in r.CATEGORIES},
        "q_sent": _flag(status.is_not(None) | row["question_ref"].is_not(None) | answered),
        "q_reached": _flag(status.in_(sorted(r.REACHED_STATUSES)) | answered),
        "q_failed": _flag(status == r.FAILED),
        "q_reported": _flag(status.in_(sorted(r.REPORTED_STATUSES))),
        "fu_open": _flag(and_(detractor, ~resolved, ~claimed)),
        "fu_claimed": _flag(and_(detractor, ~resolved, claimed)),
        "fu_resolved": _flag(and_(detractor, resolved)),
    }


def _dims(source: Any = S) -> list[ColumnElement[Any]]:
    return [func.coalesce(source.c[d], "") if source.c[d].nullable else source.c[d] for d in r.DIMENSIONS]


def _theme_dims() -> list[ColumnElement[Any]]:
    """A theme row's own copies of the dimensions it carries; the survey's for the rest (as the theme report)."""
    return [func.coalesce((T if d in T.c else S).c[d], "") for d in r.DIMENSIONS]


def grouped(dialect: str, table: str, where: Sequence[Any], sign: int, *, ordered: bool = True) -> Any:
    """SELECT key, sign · SUM(counter) … GROUP BY key [ORDER BY key] over the surveys (and theme rows) in
    `where`."""
    if table == "report_days":
        keys = [utc_day(dialect, S.c.asked_at), *_dims()]
        counters = list(day_counters(S.c).values())
        source, cond = S, [S.c.asked_at.is_not(None)]
    elif table == "report_skips":
        keys = [utc_day(dialect, S.c.created_at), *_dims(), func.coalesce(S.c.skip_reason, r.UNKNOWN_REASON)]
        counters = [literal(1, _FLAG)]
        source, cond = S, [S.c.state == str(State.SKIPPED)]
    elif table in ("report_followups", "report_followup_months"):
        day = (utc_day if table == "report_followups" else utc_month)(dialect, S.c.asked_at)
        keys = [day, *_dims(), func.coalesce(S.c.claimed_by, "")]
        counters = list(followup_rollup.counters().values())
        source, cond = followup_rollup.SOURCE, followup_rollup.condition()
    else:
        keys = [utc_day(dialect, T.c.asked_at), *_theme_dims(), T.c.theme]
        counters = [_flag(S.c.score == n) for n in range(11)]
        source, cond = T.join(S, S.c.id == T.c.survey_id), [T.c.asked_at.is_not(None), S.c.score.is_not(None)]
    labelled = [k.label(name) for k, name in zip(keys, KEYS[table], strict=True)]
    sums = [(sign * func.sum(c)).label(name) for c, name in zip(counters, COUNTERS[table], strict=True)]
    q = select(*labelled, *sums).select_from(source).where(*cond, *where, true())
    q = q.group_by(*keys)
    return q.order_by(*keys) if ordered else q


def upsert(dialect: str, table: str, source: Any) -> Any:
    """INSERT … `source` ON CONFLICT (key) DO UPDATE SET counter = counter + excluded.counter."""
    t = TABLES[table]
    columns = [*KEYS[table], *COUNTERS[table]]
    stmt = dialect_insert(dialect, t).from_select(columns, source)
    return stmt.on_conflict_do_update(
        index_elements=list(KEYS[table]), set_={c: t.c[c] + stmt.excluded[c] for c in COUNTERS[table]}
    )
