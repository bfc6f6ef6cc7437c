"""Inbound journal queries: a request answered before it is processed is on disk first, and claimed under a lease
so that after a crash exactly one process replays it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store.tables import InboundJournalRow

J = InboundJournalRow.__table__

PENDING, DEAD = "pending", "dead"

# Built once with bound parameters: every acknowledged Slack request runs both, and a statement built per call
# costs SQLAlchemy a new cache key each time.
_ADD_COLUMNS = (
    "channel", "profile", "body", "headers", "received_at", "status", "attempts", "lease_until", "leased_by",
)  # fmt: skip
_ADD = insert(J).values({c: bindparam(c, type_=J.c[c].type) for c in _ADD_COLUMNS}).returning(J.c.id)
_DONE = delete(J).where(J.c.id.in_(bindparam("entry_ids", expanding=True)))


@dataclass(frozen=True, slots=True)
class Entry:
    """One journaled request as it arrived; `attempts` counts this claim too."""

    id: int
    body: str
    headers: dict[str, str]
    attempts: int
    received_at: datetime


def _entry(row: Any) -> Entry:
    return Entry(row.id, row.body, dict(row.headers or {}), row.attempts, row.received_at)


async def add(
    conn: AsyncConnection,
    channel: str,
    profile: str,
    body: str,
    headers: dict[str, str],
    now: datetime,
    owner: str,
    lease: timedelta,
) -> Entry:
    """Journal a request already claimed by `owner`, which processes it right away."""
    values = {
        "channel": channel,
        "profile": profile,
        "body": body,
        "headers": headers,
        "received_at": now,
        "status": PENDING,
        "attempts": 1,
        "lease_until": now + lease,
        "leased_by": owner,
    }
    new_id = (await conn.execute(_ADD, values)).scalar_one()
    return Entry(int(new_id), body, headers, 1, now)


async def claim(
    conn: AsyncConnection,
    channel: str,
    profile: str,
    owner: str,
    now: datetime,
    lease: timedelta,
    limit: int,
) -> list[Entry]:
    """Lease up to `limit` pending rows nobody holds (a crashed holder's lease ran out), oldest first.

    One statement: PostgreSQL skips rows another process is claiming at the same moment, and SQLite runs it
    under its single write lock, so two processes never take the same row.
    """
    ready = (
        select(J.c.id)
        .where(
            J.c.channel == channel,
            J.c.profile == profile,
            J.c.status == PENDING,
            or_(J.c.lease_until.is_(None), J.c.lease_until <= now),
        )
        .order_by(J.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    stmt = (
        update(J)
        .where(J.c.id.in_(ready))
        .values(lease_until=now + lease, leased_by=owner, attempts=J.c.attempts + 1)
        .returning(J)
    )
    return sorted((_entry(r) for r in (await conn.execute(stmt)).all()), key=lambda e: e.id)


async def done(conn: AsyncConnection, entry_ids: list[int]) -> None:
    """Processed: the effect is in the database under its own dedup key, so the raw requests can go."""
    await conn.execute(_DONE, {"entry_ids": entry_ids})


async def retry(conn: AsyncConnection, entry_id: int, owner: str, at: datetime, error: str) -> None:
    await conn.execute(
        update(J)
        .where(J.c.id == entry_id, J.c.leased_by == owner, J.c.status == PENDING)
        .values(lease_until=at, leased_by=None, last_error=error[:2000])
    )


async def give_up(conn: AsyncConnection, entry_id: int, error: str) -> None:
    """Kept, marked dead, so an operator can see (and replay by hand) what was never processed."""
    await conn.execute(
        update(J)
        .where(J.c.id == entry_id)
        .values(status=DEAD, lease_until=None, leased_by=None, last_error=error[:2000])
    )


async def release(conn: AsyncConnection, entry_ids: Iterable[int], owner: str) -> None:
    """Hand back rows interrupted by a shutdown: claimable at once, and the interrupted try does not count."""
    await conn.execute(
        update(J)
        .where(J.c.id.in_(list(entry_ids)), J.c.leased_by == owner, J.c.status == PENDING)
        .values(lease_until=None, leased_by=None, attempts=J.c.attempts - 1)
    )


async def count_by_status(conn: AsyncConnection) -> dict[tuple[str, str], int]:
    """(channel, status) -> rows: pending ones are waiting for a replay, dead ones need an operator."""
    q = select(J.c.channel, J.c.status, func.count()).group_by(J.c.channel, J.c.status)
    return {(channel, status): int(n) for channel, status, n in (await conn.execute(q)).all()}


async def entries(conn: AsyncConnection, channel: str, profile: str | None = None) -> list[dict[str, Any]]:
    """Every row still in the journal (pending or dead), for tests and operators."""
    q = select(J).where(J.c.channel == channel).order_by(J.c.id)
    if profile is not None:
        q = q.where(J.c.profile == profile)
    return [dict(r._mapping) for r in (await conn.execute(q)).all()]
