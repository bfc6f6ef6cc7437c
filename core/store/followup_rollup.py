"""report_followups in SQL (core/rollups.py says the rule in Python): what a completed detractor counts for, read
from its survey row and its SLA row, and the stored durations the rollup's histograms and the SLA report's
percentiles read.

Who writes what keeps it in step: a Survey write that makes a completed detractor (or moves one) adds its change
here (`survey_change`), claims and resolutions recount their survey (core/store/followups.py), the SLA's start and
escalations theirs (core/store/sla.py), erasure the surveys it touches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Float, Integer, Numeric, and_, case, cast, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from core import rollups as r
from core.store.sla_tables import FollowUpSlaRow
from core.store.tables import SurveyRow
from core.survey import Survey

S = SurveyRow.__table__
L = FollowUpSlaRow.__table__
SOURCE = S.outerjoin(L, L.c.survey_id == S.c.id)
TABLE = "report_followups"
MONTHS = "report_followup_months"  # the same counts per month
DURATIONS = {"claim": ("claim_seconds", S.c.claimed_at), "resolve": ("resolve_seconds", S.c.resolved_at)}
_FLAG = Integer()


def completed_detractor() -> list[ColumnElement[bool]]:
    return [S.c.category == "detractor", S.c.state == "completed"]


def seconds(dialect: str, end: ColumnElement[Any]) -> ColumnElement[Any]:
    """From the alert (completion) to `end` in seconds, rounded to the millisecond as the SLA report always has
    (PostgreSQL: the epoch as numeric, rounded; SQLite: julianday's difference, rounded)."""
    if dialect == "postgresql":
        return cast(func.round(cast(func.extract("epoch", end - S.c.completed_at), Numeric), 3), Float)
    return func.round((func.julianday(end) - func.julianday(S.c.completed_at)) * 86400.0, 3)


async def set_seconds(conn: AsyncConnection, survey_id: int) -> None:
    """Store the claim's and the resolution's durations of one survey from its columns as they are now."""
    dialect = conn.dialect.name
    values = {column: seconds(dialect, end) for column, end in DURATIONS.values()}
    await conn.execute(update(S).where(S.c.id == survey_id).values(**values))


def fill_seconds(dialect: str) -> Any:
    """UPDATE the stored durations of the surveys claimed or resolved without them (rows written by other means
    than the follow-up functions: a bulk load, an import), set-based: what a rebuild runs first."""
    missing = or_(
        and_(S.c.claimed_at.is_not(None), S.c.claim_seconds.is_(None)),
        and_(S.c.resolved_at.is_not(None), S.c.resolve_seconds.is_(None)),
    )
    values = {column: seconds(dialect, end) for column, end in DURATIONS.values()}
    return update(S).where(missing).values(**values)


def bucket_range(i: int) -> tuple[int | None, int | None]:
    """[low, high) of bucket i, None for an open end."""
    bounds = r.FOLLOWUP_BOUNDS
    return (bounds[i - 1] if i > 0 else None), (bounds[i] if i < len(bounds) else None)


def in_bucket(column: ColumnElement[Any], i: int) -> ColumnElement[bool]:
    low, high = bucket_range(i)
    cond = [column.is_not(None)]
    if low is not None:
        cond.append(column >= low)
    if high is not None:
        cond.append(column < high)
    return and_(*cond)


def _flag(condition: Any) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def late(done: ColumnElement[Any], due: ColumnElement[Any]) -> ColumnElement[bool]:
    """A deadline missed by what was done: done after it (one still to do is counted live from the open ones)."""
    return and_(done.is_not(None), due.is_not(None), done > due)


def counters() -> dict[str, ColumnElement[int]]:
    """report_followups' counters of one completed detractor row of SOURCE, as SQL."""
    out: dict[str, ColumnElement[int]] = {
        "detractors": literal(1, _FLAG),
        "with_sla": _flag(L.c.survey_id.is_not(None)),
        "claimed": _flag(S.c.claimed_at.is_not(None)),
        "resolved": _flag(S.c.resolved_at.is_not(None)),
        "claim_late": _flag(late(S.c.claimed_at, L.c.claim_due_at)),
        "resolve_late": _flag(late(S.c.resolved_at, L.c.resolve_due_at)),
        "claim_escalated": _flag(L.c.claim_escalated_at.is_not(None)),
        "resolve_escalated": _flag(L.c.resolve_escalated_at.is_not(None)),
    }
    for names, column in ((r.CLAIM_BUCKETS, S.c.claim_seconds), (r.RESOLVE_BUCKETS, S.c.resolve_seconds)):
        out |= {name: _flag(in_bucket(column, i)) for i, name in enumerate(names)}
    return out


def condition() -> list[ColumnElement[bool]]:
    return [S.c.asked_at.is_not(None), *completed_detractor()]


STORED = (S.c.claimed_by, S.c.claimed_at, S.c.resolved_at, S.c.claim_seconds, S.c.resolve_seconds,
           L.c.survey_id.label("has_sla"), L.c.claim_due_at, L.c.resolve_due_at, L.c.claim_escalated_at,
           L.c.resolve_escalated_at)  # fmt: skip


async def survey_change(conn: AsyncConnection, old: Survey | None, new: Survey) -> r.Delta:
    """report_followups' change when a Survey write takes `old` (None: a new row) to `new`, after the write: nothing
    unless it makes, unmakes or moves a completed detractor; then the follow-up columns the write left as they
    were are read from the stored rows (a new row has none)."""
    before, after = (None if old is None else r.facts(old)), r.facts(new)
    if before is None and r.followup_key(after) is None:
        return {}
    if before is not None and r.followup_inputs(before) == r.followup_inputs(after):
        return {}
    stored: Mapping[str, Any] = {}
    if before is not None and new.id is not None:
        row = (await conn.execute(select(*STORED).select_from(SOURCE).where(S.c.id == new.id))).first()
        stored = {} if row is None else dict(row._mapping)
    change = r.delta(None if before is None else {**before, **stored}, {**after, **stored})
    return {t: change.get(t, {}) for t in (TABLE, MONTHS)}
