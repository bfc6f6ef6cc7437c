"""Follow-up SLA queries: a detractor's deadlines are written when its alert is queued, and the worker finds the
passed ones by an index on `next_check_at`. Every function takes the caller's connection. Starting an SLA and
escalating one change what the SLA report's rollup counts (core/store/followup_rollup.py): both recount the
survey."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.profiles import AlertTarget
from core.sla import Deadlines, Kind, SlaState
from core.store import followup_rollup, rollups
from core.store.sla_tables import FollowUpSlaRow
from core.store.tables import SurveyRow

L = FollowUpSlaRow.__table__
S = SurveyRow.__table__


async def start(conn: AsyncConnection, survey_id: int, profile: str, deadlines: Deadlines) -> None:
    async with rollups.recounting(conn, [S.c.id == survey_id], (followup_rollup.TABLE,)):
        await _insert(conn, survey_id, profile, deadlines)


async def _insert(conn: AsyncConnection, survey_id: int, profile: str, deadlines: Deadlines) -> None:
    await conn.execute(
        insert(L).values(
            survey_id=survey_id,
            profile=profile,
            started_at=deadlines.started_at,
            claim_due_at=deadlines.claim_due_at,
            resolve_due_at=deadlines.resolve_due_at,
            next_check_at=deadlines.first_check,
            escalate_to=[{"channel": t.channel, "destination": t.destination} for t in deadlines.escalate_to],
        )
    )


def _state(row: object) -> SlaState:
    r = row._mapping  # type: ignore[attr-defined]
    targets = tuple(AlertTarget(str(t.get("channel", "")), str(t.get("destination", ""))) for t in r["escalate_to"])
    return SlaState(
        survey_id=r["survey_id"],
        profile=r["profile"],
        started_at=r["started_at"],
        claim_due_at=r["claim_due_at"],
        resolve_due_at=r["resolve_due_at"],
        claim_escalated_at=r["claim_escalated_at"],
        resolve_escalated_at=r["resolve_escalated_at"],
        next_check_at=r["next_check_at"],
        escalate_to=targets,
        claimed_at=r["claimed_at"],
        resolved_at=r["resolved_at"],
    )


_COLUMNS = (*L.c, S.c.claimed_at, S.c.resolved_at)


async def due(conn: AsyncConnection, now: datetime, limit: int, profiles: list[str]) -> list[SlaState]:
    """SLAs with a deadline passed, with their follow-up's state. On PostgreSQL the SLA rows are locked and rows
    another worker holds are skipped, so two workers never step the same one at once."""
    q = (
        select(*_COLUMNS)
        .join(S, S.c.id == L.c.survey_id)
        .where(L.c.next_check_at <= now, L.c.profile.in_(profiles))
        .order_by(L.c.next_check_at)
        .limit(limit)
        .with_for_update(of=L, skip_locked=True)
    )
    return [_state(r) for r in (await conn.execute(q)).all()]


async def any_due(conn: AsyncConnection, now: datetime, profiles: list[str]) -> bool:
    """Whether any SLA has a deadline passed: a read, so a worker's idle pass takes no write lock for it."""
    q = select(L.c.survey_id).where(L.c.next_check_at <= now, L.c.profile.in_(profiles)).limit(1)
    return (await conn.execute(q)).first() is not None


async def get(conn: AsyncConnection, survey_id: int) -> SlaState | None:
    q = select(*_COLUMNS).join(S, S.c.id == L.c.survey_id).where(L.c.survey_id == survey_id)
    row = (await conn.execute(q)).first()
    return None if row is None else _state(row)


async def advance(
    conn: AsyncConnection, state: SlaState, escalated: list[Kind], now: datetime, next_check: datetime | None
) -> bool:
    """Record the escalations and the next look, only if nobody did since `state` was read (its next_check_at
    and escalation marks unchanged): True when this call did it, so exactly one caller queues the escalation."""
    values: dict[str, object] = {"next_check_at": next_check}
    for kind in escalated:
        values[f"{kind}_escalated_at"] = now
    stmt = (
        update(L)
        .where(
            L.c.survey_id == state.survey_id,
            L.c.next_check_at == state.next_check_at,
            *(L.c[f"{kind}_escalated_at"].is_(None) for kind in escalated),
        )
        .values(**values)
    )
    if not escalated:  # the next look only: nothing counted changes
        return (await conn.execute(stmt)).rowcount == 1
    async with rollups.recounting(conn, [S.c.id == state.survey_id], (followup_rollup.TABLE,)):
        return (await conn.execute(stmt)).rowcount == 1
