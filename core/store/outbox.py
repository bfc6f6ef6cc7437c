"""Outbox queries: messages are written with the state change that caused them and claimed under a lease."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from core.channel import Delivery, UnknownAction, decode, encode
from core.delivery import PermanentFailure
from core.store.tables import OutboxRow
from core.types import OutboundAction

OB = OutboxRow.__table__

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"
_ENQUEUE = insert(OB)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One claimed row: `target` is where it goes (conversation_id, user_id, thread, locale), `kind` and `payload`
    the action it holds (core.channel's encoding). `question_ref` is filled in for an edit of the question."""

    id: int
    profile: str
    channel: str
    kind: str
    survey_id: int | None
    target: dict[str, Any]
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    question_ref: str | None = None

    def decode(self) -> tuple[Delivery, OutboundAction]:
        """What the channel is handed. A row that can't be sent raises PermanentFailure: one core refused when it
        was queued (an alert destination a conversation id would have moved elsewhere), or one holding no known
        action."""
        t = self.target
        if t.get("refused"):
            raise PermanentFailure(str(t["refused"]))
        try:
            action = decode(self.kind, self.payload)
        except UnknownAction as exc:
            raise PermanentFailure(str(exc)) from exc
        delivery = Delivery(
            self.id,
            self.profile,
            self.channel,
            self.survey_id,
            str(t.get("conversation_id", "")),
            str(t.get("user_id", "")),
            t.get("thread"),
            t.get("locale"),
            self.attempts,
            self.question_ref,
            t.get("workspace"),
        )
        return delivery, action


@dataclass(frozen=True, slots=True)
class NewMessage:
    """An action to queue for one destination; `ordering_key` keeps one conversation's messages in order."""

    profile: str
    channel: str
    ordering_key: str
    target: dict[str, Any]
    action: OutboundAction
    survey_id: int | None = None


def rows_for(messages: list[NewMessage], now: datetime) -> list[dict[str, Any]]:
    rows = []
    for m in messages:
        kind, payload = encode(m.action)
        rows.append(
            {
                "profile": m.profile,
                "channel": m.channel,
                "kind": kind,
                "survey_id": m.survey_id,
                "ordering_key": m.ordering_key[:512],
                "target": m.target,
                "payload": payload,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
    return rows


async def enqueue(conn: AsyncConnection, messages: list[NewMessage], now: datetime) -> None:
    if not messages:
        return
    rows = rows_for(messages, now)
    # One row (the usual case: the next question) goes as a single execute, which costs less than a batch of one.
    await conn.execute(_ENQUEUE, rows[0] if len(rows) == 1 else rows)


async def claim(
    conn: AsyncConnection, worker: str, now: datetime, lease: timedelta, limit: int, channels: list[str] | None = None
) -> list[OutboxItem]:
    """Lease up to `limit` ready messages, oldest first, never overtaking an earlier one in the same conversation.

    A lease that ran out (its worker died) makes the message ready again. PostgreSQL skips rows that another
    worker holds, so several workers share one queue without sending a message twice.
    """
    earlier = aliased(OB)
    ready = or_(
        and_(OB.c.status == PENDING, OB.c.next_attempt_at <= now),
        and_(OB.c.status == SENDING, OB.c.lease_until < now),
    )
    blocked = exists().where(
        earlier.c.ordering_key == OB.c.ordering_key,
        earlier.c.id < OB.c.id,
        earlier.c.status.in_([PENDING, SENDING]),
    )
    cond = [ready, ~blocked]
    if channels is not None:
        cond.append(OB.c.channel.in_(channels))
    ids = select(OB.c.id).where(*cond).order_by(OB.c.id).limit(limit).with_for_update(skip_locked=True)
    id_list = list((await conn.execute(ids)).scalars())
    if not id_list:
        return []
    stmt = (
        update(OB)
        .where(OB.c.id.in_(id_list))
        .values(status=SENDING, lease_until=now + lease, leased_by=worker, attempts=OB.c.attempts + 1)
        .returning(OB)
    )
    rows = (await conn.execute(stmt)).all()
    items = [
        OutboxItem(r.id, r.profile, r.channel, r.kind, r.survey_id, r.target, r.payload, r.attempts, r.created_at)
        for r in rows
    ]
    return sorted(items, key=lambda i: i.id)


async def mark_sent(conn: AsyncConnection, item_id: int, worker: str, now: datetime, ref: str | None) -> bool:
    """False when the lease was lost to another worker meanwhile (then that worker owns the outcome)."""
    result = await conn.execute(
        update(OB)
        .where(OB.c.id == item_id, OB.c.leased_by == worker, OB.c.status == SENDING)
        .values(status=SENT, sent_at=now, ref=ref, lease_until=None, last_error=None)
    )
    return result.rowcount == 1


async def mark_retry(conn: AsyncConnection, item_id: int, worker: str, at: datetime, error: str) -> None:
    await conn.execute(
        update(OB)
        .where(OB.c.id == item_id, OB.c.leased_by == worker, OB.c.status == SENDING)
        .values(status=PENDING, next_attempt_at=at, lease_until=None, last_error=error[:2000])
    )


async def mark_deferred(conn: AsyncConnection, item_id: int, worker: str, at: datetime) -> None:
    """Back to the queue for a rate limit, without counting the claim as a failed attempt."""
    await conn.execute(
        update(OB)
        .where(OB.c.id == item_id, OB.c.leased_by == worker, OB.c.status == SENDING)
        .values(status=PENDING, next_attempt_at=at, lease_until=None, attempts=OB.c.attempts - 1)
    )


async def mark_dead(conn: AsyncConnection, item_id: int, worker: str, error: str) -> None:
    await conn.execute(
        update(OB)
        .where(OB.c.id == item_id, OB.c.leased_by == worker, OB.c.status == SENDING)
        .values(status=DEAD, lease_until=None, last_error=error[:2000])
    )


async def stats(conn: AsyncConnection, now: datetime) -> dict[str, Any]:
    by_status = {r[0]: int(r[1]) for r in (await conn.execute(select(OB.c.status, func.count()).group_by(OB.c.status)))}
    oldest = (
        await conn.execute(select(func.min(OB.c.created_at)).where(OB.c.status.in_([PENDING, SENDING])))
    ).scalar_one_or_none()
    age = 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
    return {"by_status": by_status, "oldest_pending_age": age}


async def next_due(conn: AsyncConnection) -> datetime | None:
    """When the earliest waiting message may be sent (None: nothing waits); the demo moves its clock there."""
    due = (await conn.execute(select(func.min(OB.c.next_attempt_at)).where(OB.c.status == PENDING))).scalar()
    return None if due is None else due if due.tzinfo else due.replace(tzinfo=UTC)


async def dead_letters(
    conn: AsyncConnection, profiles: Collection[str] | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Messages given up on, newest first; `profiles` (a token's view) narrows them in SQL, before the limit, so a
    scoped caller gets a full page of its own."""
    q = select(OB).where(OB.c.status == DEAD)
    if profiles is not None:
        q = q.where(OB.c.profile.in_(sorted(profiles)))
    q = q.order_by(OB.c.id.desc()).limit(limit)
    return [
        {
            "id": r.id,
            "profile": r.profile,
            "channel": r.channel,
            "kind": r.kind,
            "survey_id": r.survey_id,
            "attempts": r.attempts,
            "last_error": r.last_error,
            "created_at": r.created_at.isoformat(),
        }
        for r in (await conn.execute(q)).all()
    ]
