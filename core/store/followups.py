"""Detractor follow-up queries: who claimed a completed detractor survey, who resolved it, and when. The rules (what
may be claimed, what resolving implies) are core.followup's; this module only reads and writes the columns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import FromClause

from core.store import followup_rollup, rollups
from core.store.sla_tables import FollowUpSlaRow
from core.store.tables import FOLLOWUP_LATEST, FOLLOWUP_OPEN, SurveyRow

if TYPE_CHECKING:
    from core.reports.summary import Filters

S = SurveyRow.__table__
L = FollowUpSlaRow.__table__
WHO = 191  # the width of claimed_by / resolved_by
STATUSES = ("open", "claimed", "resolved")
_COUNTED = ("report_days", "report_followups")  # the rollups a claim or resolution changes
_STATE = (S.c.id, S.c.score, S.c.category, S.c.claimed_by, S.c.claimed_at, S.c.resolved_by, S.c.resolved_at)
_LISTED = (
    S.c.id, S.c.profile, S.c.channel, S.c.score, S.c.comment, S.c.agent, S.c.team, S.c.customer_name, S.c.user_id,
    S.c.completed_at, S.c.claimed_by, S.c.claimed_at, S.c.resolved_by, S.c.resolved_at, S.c.priority, S.c.tags,
)  # fmt: skip
# The SLA of a follow-up that has one (core.sla): its deadlines and escalations, NULL for the rest.
_SLA = (L.c.claim_due_at, L.c.resolve_due_at, L.c.claim_escalated_at, L.c.resolve_escalated_at)
SLA_COLUMNS = frozenset(c.name for c in _SLA)
# The follow-ups not resolved, listed newest first through the partial index holding the period's and the profile's
# columns (migration 0025).
OPEN_STATUSES = ("open", "claimed")
LATEST_INDEX = FOLLOWUP_LATEST


def _where_status(c: Any) -> dict[str, tuple[Any, ...]]:
    return {
        "open": (c.claimed_at.is_(None), c.resolved_at.is_(None)),
        "claimed": (c.claimed_at.is_not(None), c.resolved_at.is_(None)),
        "resolved": (c.resolved_at.is_not(None),),
    }


@dataclass(frozen=True, slots=True)
class FollowUpState:
    """One survey's follow-up columns, with its category so the caller can tell a detractor from the rest."""

    survey_id: int
    score: int | None
    category: str | None
    claimed_by: str | None
    claimed_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None


async def state(
    conn: AsyncConnection, survey_id: int, *, profile: str | None = None, lock: bool = False
) -> FollowUpState | None:
    """The survey's follow-up columns (None when it does not exist, or belongs to another profile than `profile`);
    `lock` holds the row until the transaction ends, so two claims are decided one after the other."""
    q = select(*_STATE).where(S.c.id == survey_id)
    if profile is not None:
        q = q.where(S.c.profile == profile)
    if lock:
        q = q.with_for_update()
    row = (await conn.execute(q)).first()
    return None if row is None else FollowUpState(*row)


async def claim_if_open(conn: AsyncConnection, survey_id: int, who: str, now: datetime) -> None:
    """Record the claim unless someone claimed or resolved it already."""
    async with rollups.recounting(conn, [S.c.id == survey_id], _COUNTED):
        await conn.execute(
            update(S)
            .where(S.c.id == survey_id, S.c.claimed_at.is_(None), S.c.resolved_at.is_(None))
            .values(claimed_by=who[:WHO], claimed_at=now)
        )
        await followup_rollup.set_seconds(conn, survey_id)


async def claim_if_unclaimed(conn: AsyncConnection, survey_id: int, who: str, now: datetime) -> None:
    async with rollups.recounting(conn, [S.c.id == survey_id], _COUNTED):
        await conn.execute(
            update(S).where(S.c.id == survey_id, S.c.claimed_at.is_(None)).values(claimed_by=who[:WHO], claimed_at=now)
        )
        await followup_rollup.set_seconds(conn, survey_id)


async def resolve_if_unresolved(conn: AsyncConnection, survey_id: int, who: str, now: datetime) -> None:
    async with rollups.recounting(conn, [S.c.id == survey_id], _COUNTED):
        await conn.execute(
            update(S)
            .where(S.c.id == survey_id, S.c.resolved_at.is_(None))
            .values(resolved_by=who[:WHO], resolved_at=now)
        )
        await followup_rollup.set_seconds(conn, survey_id)


async def completed_detractors(
    conn: AsyncConnection,
    profiles: tuple[str, ...] | None,
    status: str | None,
    limit: int,
    filters: Filters | None = None,
    rows_of: FromClause = S,
) -> list[dict[str, Any]]:
    """Completed detractor surveys with their follow-up columns, newest first; `status` is one of STATUSES (None:
    any), `filters` as in the report; `rows_of` the surveys table or a FROM element with its columns (one that
    names the index to read it through: LATEST_INDEX for the OPEN_STATUSES)."""
    c = rows_of.c
    q = select(*(c[col.name] for col in _LISTED), *_SLA).select_from(rows_of.outerjoin(L, L.c.survey_id == c.id))
    q = q.where(c.category == "detractor", c.state == "completed")
    if profiles is not None:
        q = q.where(c.profile.in_(profiles))
    if filters is not None:
        q = q.where(*filters.where(rows_of))
    if status is not None:
        q = q.where(*_where_status(c)[status])
    if status in OPEN_STATUSES:  # implied; spelled as the partial index's predicate, so the index can be read
        q = q.where(text(FOLLOWUP_OPEN))
    rows = (await conn.execute(q.order_by(c.id.desc()).limit(limit))).all()
    return [dict(row._mapping) for row in rows]
