"""Web session queries. Sessions live in the database, not in a process, so every web process of a deployment
honours a sign-in, a sign-out and a revocation alike."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store.tables import WebSessionRow

S = WebSessionRow.__table__


@dataclass(frozen=True, slots=True)
class Session:
    id_hash: str
    token_hash: str
    scope: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime


async def add(conn: AsyncConnection, session: Session) -> None:
    await conn.execute(
        insert(S).values(
            id_hash=session.id_hash,
            token_hash=session.token_hash,
            scope=session.scope,
            created_at=session.created_at,
            expires_at=session.expires_at,
            last_seen_at=session.last_seen_at,
        )
    )


async def find(conn: AsyncConnection, id_hash: str) -> Session | None:
    row = (await conn.execute(select(S).where(S.c.id_hash == id_hash))).first()
    if row is None:
        return None
    return Session(row.id_hash, row.token_hash, row.scope, row.created_at, row.expires_at, row.last_seen_at)


async def touch(conn: AsyncConnection, id_hash: str, now: datetime) -> None:
    await conn.execute(update(S).where(S.c.id_hash == id_hash).values(last_seen_at=now))


async def remove(conn: AsyncConnection, id_hash: str) -> bool:
    return (await conn.execute(delete(S).where(S.c.id_hash == id_hash))).rowcount > 0


async def prune(conn: AsyncConnection, now: datetime, live_tokens: Collection[str]) -> int:
    """Delete sessions past their expiry and those opened with a token that is no longer configured."""
    stale = or_(S.c.expires_at <= now, S.c.token_hash.not_in(list(live_tokens)))
    return (await conn.execute(delete(S).where(stale))).rowcount


async def remove_all(conn: AsyncConnection) -> int:
    return (await conn.execute(delete(S))).rowcount


async def count(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.count()).select_from(S))).scalar_one())
