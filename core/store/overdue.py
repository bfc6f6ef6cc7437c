"""Detractor follow-ups still open past a deadline of their SLA, for the digest: unclaimed after the claim
deadline, or unresolved after the resolve deadline. One COUNT over the SLA rows of one profile."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store.sla_tables import FollowUpSlaRow
from core.store.tables import SurveyRow

L = FollowUpSlaRow.__table__
S = SurveyRow.__table__


async def overdue_followups(conn: AsyncConnection, profile: str, now: datetime) -> int:
    late_claim = and_(L.c.claim_due_at <= now, S.c.claimed_at.is_(None))
    late_resolve = L.c.resolve_due_at <= now
    q = (
        select(func.count())
        .select_from(L.join(S, S.c.id == L.c.survey_id))
        .where(L.c.profile == profile, S.c.resolved_at.is_(None), or_(late_claim, late_resolve))
    )
    return int((await conn.execute(q)).scalar_one())
