"""Closing the loop on detractors: who claimed the follow-up, who resolved it, and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from core.reports.summary import Filters
from core.store import Store
from core.store.tables import SurveyRow

S = SurveyRow.__table__
MAX_SURVEY_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class FollowUp:
    survey_id: int
    score: int | None
    claimed_by: str | None
    claimed_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None

    @property
    def status(self) -> str:
        if self.resolved_at is not None:
            return "resolved"
        if self.claimed_at is not None:
            return "claimed"
        return "open"


class NotADetractor(LookupError):
    """Only completed detractor surveys have a follow-up."""


async def get(store: Store, survey_id: int, *, profile: str | None = None) -> FollowUp:
    async with store.read() as conn:
        return await _get(conn, survey_id, profile=profile)


async def claim(store: Store, survey_id: int, who: str, now: datetime, *, profile: str | None = None) -> FollowUp:
    """First claim wins; claiming again (or after resolution) returns the recorded state unchanged.

    `profile` is the profile whose bot or token received the action: a survey of any other profile is refused as
    if it did not exist (an id from button data is client input). None only for callers that checked scope."""
    async with store.transaction() as conn:
        await _get(conn, survey_id, lock=True, profile=profile)
        await conn.execute(
            update(S)
            .where(S.c.id == survey_id, S.c.claimed_at.is_(None), S.c.resolved_at.is_(None))
            .values(claimed_by=who[:191], claimed_at=now)
        )
        return await _get(conn, survey_id)


async def resolve(store: Store, survey_id: int, who: str, now: datetime, *, profile: str | None = None) -> FollowUp:
    """Resolving also claims an unclaimed follow-up, so the report always knows who handled it."""
    async with store.transaction() as conn:
        await _get(conn, survey_id, lock=True, profile=profile)
        await conn.execute(
            update(S).where(S.c.id == survey_id, S.c.claimed_at.is_(None)).values(claimed_by=who[:191], claimed_at=now)
        )
        await conn.execute(
            update(S)
            .where(S.c.id == survey_id, S.c.resolved_at.is_(None))
            .values(resolved_by=who[:191], resolved_at=now)
        )
        return await _get(conn, survey_id)


async def _get(conn, survey_id: int, *, lock: bool = False, profile: str | None = None) -> FollowUp:
    if not 0 < survey_id <= MAX_SURVEY_ID:  # a 64-bit column: a larger id from client input names nothing
        raise NotADetractor(survey_id)
    q = select(S.c.id, S.c.score, S.c.category, S.c.claimed_by, S.c.claimed_at, S.c.resolved_by, S.c.resolved_at).where(
        S.c.id == survey_id
    )
    if profile is not None:
        q = q.where(S.c.profile == profile)
    if lock:
        q = q.with_for_update()
    row = (await conn.execute(q)).first()
    if row is None or row.category != "detractor":
        raise NotADetractor(survey_id)
    return FollowUp(row.id, row.score, row.claimed_by, row.claimed_at, row.resolved_by, row.resolved_at)


async def list_followups(
    store: Store,
    profiles: tuple[str, ...] | None,
    status: str | None = None,
    limit: int = 100,
    filters: Filters | None = None,
) -> list[dict[str, object]]:
    """Completed detractor surveys with their follow-up state, newest first; `filters` as in the report."""
    q = select(
        S.c.id, S.c.profile, S.c.channel, S.c.score, S.c.comment, S.c.agent, S.c.team, S.c.customer_name, S.c.user_id,
        S.c.completed_at, S.c.claimed_by, S.c.claimed_at, S.c.resolved_by, S.c.resolved_at,
    ).where(S.c.category == "detractor", S.c.state == "completed")  # fmt: skip
    if profiles is not None:
        q = q.where(S.c.profile.in_(profiles))
    if filters is not None:
        q = q.where(*filters.where())
    if status == "open":
        q = q.where(S.c.claimed_at.is_(None), S.c.resolved_at.is_(None))
    elif status == "claimed":
        q = q.where(S.c.claimed_at.is_not(None), S.c.resolved_at.is_(None))
    elif status == "resolved":
        q = q.where(S.c.resolved_at.is_not(None))
    async with store.read() as conn:
        rows = (await conn.execute(q.order_by(S.c.id.desc()).limit(limit))).all()
    return [
        {key: (value.isoformat() if hasattr(value, "isoformat") else value) for key, value in row._mapping.items()}
        | {"status": "resolved" if row.resolved_at else "claimed" if row.claimed_at else "open"}
        for row in rows
    ]
