"""Audit log queries: one INSERT per entry, read newest first with an id cursor."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store.privacy_tables import AuditRow
from core.store.tables import SurveyRow

A = AuditRow.__table__
S = SurveyRow.__table__
_COLUMNS = ("at", "actor", "action", "profile", "target", "details")
_ADD = insert(A).values({c: bindparam(c, type_=A.c[c].type) for c in _COLUMNS})


async def add(conn: AsyncConnection, entry: dict[str, Any]) -> None:
    await conn.execute(_ADD, {c: entry.get(c) for c in _COLUMNS})


async def entries(
    conn: AsyncConnection,
    *,
    action: str | None = None,
    profile: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Newest first; `before_id` continues a page (entries with a smaller id)."""
    q = select(A)
    if action is not None:
        q = q.where(A.c.action == action)
    if profile is not None:
        q = q.where(A.c.profile == profile)
    if since is not None:
        q = q.where(A.c.at >= since)
    if until is not None:
        q = q.where(A.c.at < until)
    if before_id is not None:
        q = q.where(A.c.id < before_id)
    rows = (await conn.execute(q.order_by(A.c.id.desc()).limit(limit))).all()
    return [dict(r._mapping) for r in rows]


async def about(conn: AsyncConnection, targets: Collection[str]) -> list[dict[str, Any]]:
    """Entries whose target is one of `targets`, oldest first (a person's surveys and their keyed subject)."""
    if not targets:
        return []
    q = select(A.c.at, A.c.action, A.c.profile, A.c.target).where(A.c.target.in_(sorted(targets))).order_by(A.c.id)
    return [dict(r._mapping) for r in (await conn.execute(q)).all()]


async def survey_profile(conn: AsyncConnection, survey_id: int) -> str | None:
    """The profile of a survey, for an entry about it."""
    return (await conn.execute(select(S.c.profile).where(S.c.id == survey_id))).scalar_one_or_none()
