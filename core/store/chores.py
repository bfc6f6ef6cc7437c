"""Chores on a stored schedule (the retention pass, campaigns, digests): when each is next due and who holds its
turn. One row per chore; a lease taken by one UPDATE decides which worker runs it, so among several workers exactly
one does, and a crashed holder's turn passes to another once its lease runs out."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store.inserts import dialect_insert, insert_ignore
from core.store.retention_tables import ChoreRow

CH = ChoreRow.__table__


async def claim_chore(
    conn: AsyncConnection, name: str, owner: str, now: datetime, lease: timedelta, *, force: bool = False
) -> dict[str, Any] | None:
    """Take the chore's turn if it is due (or `force`, for a run by hand) and nobody holds it: its stored state, or
    None. One UPDATE: on PostgreSQL a second worker's waits for the first's commit and then finds the lease held."""
    first = dialect_insert(conn.dialect.name, CH).values(name=name, due_at=now, state={}, last_counts={})
    await conn.execute(first.on_conflict_do_nothing(index_elements=["name"]))
    free = or_(CH.c.lease_until.is_(None), CH.c.lease_until <= now)
    cond = [CH.c.name == name, free] if force else [CH.c.name == name, free, CH.c.due_at <= now]
    stmt = (
        update(CH)
        .where(*cond)
        .values(lease_until=now + lease, leased_by=owner, last_started_at=now)
        .returning(CH.c.state)
    )
    row = (await conn.execute(stmt)).first()
    return None if row is None else dict(row.state or {})


async def keep_chore(
    conn: AsyncConnection, name: str, owner: str, until: datetime, state: dict[str, Any] | None = None
) -> bool:
    """Extend the lease (and record progress); False when it was lost, and the holder must stop."""
    values: dict[str, Any] = {"lease_until": until}
    if state is not None:
        values["state"] = state
    stmt = update(CH).where(CH.c.name == name, CH.c.leased_by == owner).values(**values)
    return (await conn.execute(stmt)).rowcount == 1


async def finish_chore(
    conn: AsyncConnection, name: str, owner: str, now: datetime, due_at: datetime, counts: dict[str, Any]
) -> None:
    await conn.execute(
        update(CH)
        .where(CH.c.name == name, CH.c.leased_by == owner)
        .values(lease_until=None, leased_by=None, last_finished_at=now, due_at=due_at, last_counts=counts)
    )


async def release_chore(conn: AsyncConnection, name: str, owner: str, due_at: datetime | None = None) -> None:
    """Give the turn back after a failure: the next worker to look may run it at once (`due_at`: due again then,
    for an occurrence run ahead of its time that must be finished before the next one)."""
    values: dict[str, Any] = {"lease_until": None} | ({} if due_at is None else {"due_at": due_at})
    await conn.execute(update(CH).where(CH.c.name == name, CH.c.leased_by == owner).values(**values))


async def chore(conn: AsyncConnection, name: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(CH).where(CH.c.name == name))).first()
    return None if row is None else dict(row._mapping)


async def register_chore(conn: AsyncConnection, name: str, due_at: datetime, state: dict[str, Any]) -> None:
    """Create the chore's row, first due at `due_at`, unless it exists (its stored schedule then stands)."""
    row = {"name": name, "due_at": due_at, "state": state, "last_counts": {}}
    await conn.execute(insert_ignore(conn.dialect.name, CH, tuple(row), ("name",)), row)
