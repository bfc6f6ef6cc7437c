"""When each customer last wrote to us (contacts.last_inbound_at), for platforms whose messaging window opens with
the customer's message (Meta's 24 hours). A batch of messages is one prepared upsert run per customer, and the time
only moves forward: a redelivered or late webhook can never close a window a newer message opened."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, case, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store.inserts import dialect_insert
from core.store.tables import ContactRow

C = ContactRow.__table__
KEY = ("profile", "channel", "user_id")
USER_WIDTH = 128  # contacts.user_id


@cache
def _upsert(dialect: str) -> Any:
    """INSERT … ON CONFLICT DO UPDATE that keeps the later of the stored and the new time, built once per dialect
    (it runs for every webhook batch) and executed with one parameter set per customer."""
    stmt = dialect_insert(dialect, C).values(
        profile=bindparam("profile"),
        channel=bindparam("channel"),
        user_id=bindparam("user_id"),
        last_inbound_at=bindparam("last_inbound_at", type_=C.c.last_inbound_at.type),
    )
    newer = case(
        (C.c.last_inbound_at.is_(None), stmt.excluded.last_inbound_at),
        (stmt.excluded.last_inbound_at > C.c.last_inbound_at, stmt.excluded.last_inbound_at),
        else_=C.c.last_inbound_at,
    )
    return stmt.on_conflict_do_update(index_elements=list(KEY), set_={"last_inbound_at": newer})


def latest(seen: Sequence[tuple[str, datetime]], not_after: datetime | None = None) -> dict[str, datetime]:
    """The newest time per customer, none later than `not_after`: one row each, as one INSERT … ON CONFLICT may
    touch a row only once."""
    out: dict[str, datetime] = {}
    for user_id, when in seen:
        if not isinstance(user_id, str) or not 0 < len(user_id) <= USER_WIDTH:
            raise ValueError(f"a contact's user id has 1 to {USER_WIDTH} characters")
        if not isinstance(when, datetime) or when.utcoffset() is None:
            raise ValueError("a last-message time must be a timezone-aware datetime")
        if not_after is not None and when > not_after:
            when = not_after
        if user_id not in out or when > out[user_id]:
            out[user_id] = when
    return out


async def contacts_seen(
    conn: AsyncConnection,
    profile: str,
    channel: str,
    seen: Sequence[tuple[str, datetime]],
    not_after: datetime | None = None,
) -> int:
    """Record that each (user_id, when) customer wrote at `when` (at most `not_after`: a clock ahead of ours must
    not keep a window open); creates the contact if new. Returns how many contacts the statement covered."""
    rows = [
        {"profile": profile, "channel": channel, "user_id": user, "last_inbound_at": when}
        for user, when in sorted(latest(seen, not_after).items())  # a fixed order: batches never lock crosswise
    ]
    if rows:
        await conn.execute(_upsert(conn.dialect.name), rows)
    return len(rows)


@cache
def _last() -> Any:
    return select(C.c.last_inbound_at).where(
        C.c.profile == bindparam("profile"), C.c.channel == bindparam("channel"), C.c.user_id == bindparam("user_id")
    )


async def last_inbound(conn: AsyncConnection, profile: str, channel: str, user_id: str) -> datetime | None:
    params = {"profile": profile, "channel": channel, "user_id": user_id}
    return (await conn.execute(_last(), params)).scalar_one_or_none()
