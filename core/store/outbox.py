"""Outbox queries: messages are written with the state change that caused them and claimed under a lease."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    Text,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from core.channel import Delivery, UnknownAction, decode, encode, tag
from core.delivery import PermanentFailure
from core.store import question_status as qs
from core.store.tables import OutboxRow, SurveyRow
from core.types import AskScore, MarkAnswered, OutboundAction

OB, S = OutboxRow.__table__, SurveyRow.__table__
ASK_SCORE, MARK_ANSWERED = tag(AskScore), tag(MarkAnswered)

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


def waiting(table: Any) -> Any:
    """status IN ('pending', 'sending') written as literals, exactly as the partial indexes' predicate: a bound
    value would keep both backends (and PostgreSQL's generic plans) from using those indexes."""
    return table.c.status.in_([literal_column(f"'{PENDING}'"), literal_column(f"'{SENDING}'")])


def undelivered(table: Any) -> Any:
    """The waiting rows written as ix_outbox_waiting_order's predicate (status NOT IN ('sent', 'dead'), migration
    0024), for the head test alone: it implies no other partial index's, so the head test cannot be answered by
    walking ix_outbox_waiting (the id index) from the oldest waiting row, which PostgreSQL did whenever its
    statistics said no row waits (both partial indexes looked empty). Other statuses than these four there are
    none."""
    return table.c.status.not_in([literal_column(f"'{SENT}'"), literal_column(f"'{DEAD}'")])


def _ready(table: Any, now: Any) -> Any:
    """Due, or leased by a worker whose lease ran out. A CASE, not an OR of two status tests: PostgreSQL would
    answer an OR from the two status indexes and sort every ready row by id, instead of walking them in order."""
    pending = table.c.status == literal_column(f"'{PENDING}'")
    return case((pending, table.c.next_attempt_at <= now), else_=table.c.lease_until < now)


@cache
def _claim(by_channel: bool) -> Any:
    """One statement leases the batch. First a window: the oldest ready rows still to send (through the partial
    indexes, which hold no delivered row), at most WINDOW times the batch; only then the test that a row heads its
    conversation's queue (the lowest id still waiting under its ordering key, one probe of ix_outbox_waiting_order),
    a per-row subquery rather than an anti-join, run for the window's rows only whatever the statistics say. The
    head of a conversation always comes before the rest of it, so the window finds the heads among the oldest rows
    unless those rows wait behind messages another worker is sending.

    The window is read once, as the id it ends at (an uncorrelated subquery: run once), and the rows claimed are
    the ready ones up to it: with statistics that say no row waits (a burst after a quiet spell, the outbox
    analysed while it held delivered rows only) PostgreSQL had read the window again for every row it tested. Those
    statistics also made each head test walk ix_outbox_waiting from the oldest row (both partial indexes looked
    empty, and the narrower one won the tie), a third of a second for 200 out of 10,000 messages: the head test
    now states its rows as ix_outbox_waiting_order alone does (`undelivered`), so no other index can serve it."""
    win, cand, head = aliased(OB, name="win"), aliased(OB, name="cand"), aliased(OB, name="head")
    now = bindparam("b_now", type_=OB.c.next_attempt_at.type)
    cond = [waiting(win), _ready(win, now)]
    mine = [waiting(cand), _ready(cand, now)]
    if by_channel:
        channels = bindparam("b_channels", expanding=True)
        cond.append(win.c.channel.in_(channels))
        mine.append(cand.c.channel.in_(channels))
    window = select(win.c.id).where(*cond).order_by(win.c.id).limit(bindparam("b_window")).subquery("window")
    window_end = select(func.max(window.c.id)).scalar_subquery()
    first = select(func.min(head.c.id)).where(head.c.ordering_key == cand.c.ordering_key, undelivered(head))
    picked = (
        select(cand.c.id)
        # Ready is tested again on the row locked: PostgreSQL rechecks the locked row's own conditions when another
        # worker's claim changed it meanwhile (the window was read before), and skips it then.
        .where(cand.c.id <= window_end, *mine)
        .where(cand.c.id == first.scalar_subquery())
        .order_by(cand.c.id)
        .limit(bindparam("b_limit"))
    )
    # PostgreSQL skips rows another worker holds, so several workers share one queue without sending twice.
    picked = picked.with_for_update(skip_locked=True, of=cand)
    # An edit of the question carries the platform id of the question it edits, read in the same statement.
    edited = select(S.c.question_ref).where(S.c.id == OB.c.survey_id).scalar_subquery()
    question_ref = case((OB.c.kind == MARK_ANSWERED, edited), else_=null())
    return (
        update(OB)
        .where(OB.c.id.in_(picked))
        .values(
            status=SENDING,
            lease_until=bindparam("b_lease_until", type_=OB.c.lease_until.type),
            leased_by=bindparam("b_worker"),
            attempts=OB.c.attempts + 1,
        )
        .returning(*(OB.c[name] for name in _ITEM_COLUMNS), question_ref.label("question_ref"))
    )


WINDOW = 4  # rows looked at per row claimed: room for the conversations' later messages among the oldest

# Planner settings turned off for the transaction of a statement PostgreSQL misjudges on an outbox whose statistics
# say few rows wait (never analysed, or analysed while the queue was empty: a burst after a quiet spell).
#
# ORDERED_WALK, the claim's: the window and the rows claimed are read by walking ix_outbox_waiting in id order,
# stopping at the limit. PostgreSQL read every waiting row as a bitmap and sorted them instead, so a claim's reads
# grew with the queue: with 20,000 waiting, 15,800 rows and 9 ms for a claim of 200, where the walk reads 800 rows in
# 4 ms (the rows' update is the rest of a claim's time, 8 ms, either way).
ORDERED_WALK = ("enable_bitmapscan",)
# LOOKUP_BY_ID, the recording of sends' (below, _MARK_SENT_PG): index reads only, so the group's rows are looked up
# by id whatever the statistics say. The connection kept for recording turns them off for as long as it keeps it.
LOOKUP_BY_ID = ("enable_seqscan", "enable_bitmapscan")


async def plan_without(conn: AsyncConnection, settings: tuple[str, ...]) -> None:
    """Turn `settings` off until the end of the transaction (set_config's `true` is SET LOCAL: outside a
    transaction it does nothing), in one round trip; SQLite has no such settings."""
    if conn.dialect.name == "postgresql":
        await conn.exec_driver_sql("SELECT " + ", ".join(f"set_config('{name}', 'off', true)" for name in settings))


_ITEM_COLUMNS = ("id", "profile", "channel", "kind", "survey_id", "target", "payload", "attempts", "created_at")


async def claim(
    conn: AsyncConnection, worker: str, now: datetime, lease: timedelta, limit: int, channels: list[str] | None = None
) -> list[OutboxItem]:
    """Lease up to `limit` ready messages, oldest first, never overtaking an earlier one in the same conversation.

    A lease that ran out (its worker died) makes the message ready again.
    """
    await plan_without(conn, ORDERED_WALK)  # in the claim's own transaction (DeliveryLog.claim)
    params: dict[str, Any] = {"b_now": now, "b_lease_until": now + lease, "b_worker": worker, "b_limit": limit}
    params["b_window"] = limit * WINDOW
    if channels is not None:
        params["b_channels"] = list(channels)
    rows = (await conn.execute(_claim(channels is not None), params)).all()
    return sorted((OutboxItem(*r) for r in rows), key=lambda i: i.id)


async def mark_sent(conn: AsyncConnection, item_id: int, worker: str, now: datetime, ref: str | None) -> bool:
    """False when the lease was lost to another worker meanwhile (then that worker owns the outcome)."""
    return item_id in await mark_sent_all(conn, [(item_id, ref)], worker, now)


@cache
def _mark_sent(dialect: str) -> Any:
    """One statement for a group: each row's ref is looked up by its id in a JSON object of id -> ref."""
    refs = bindparam("b_refs", type_=Text)
    if dialect == "postgresql":
        ref = func.jsonb_extract_path_text(cast(refs, JSONB), cast(OB.c.id, Text))
    else:
        ref = func.json_extract(refs, literal('$."', Text) + cast(OB.c.id, Text) + literal('"', Text))
    return (
        update(OB)
        .where(OB.c.id.in_(bindparam("b_ids", expanding=True)), OB.c.leased_by == bindparam("b_worker"))
        .where(func.coalesce(OB.c.status, "") == SENDING)  # by id alone, as _MARK_SENT_PG says
        .values(
            status=SENT, sent_at=bindparam("b_at", type_=OB.c.sent_at.type), ref=ref, lease_until=None, last_error=None
        )
        .returning(OB.c.id)
    )


async def mark_sent_all(
    conn: AsyncConnection, sent: Sequence[tuple[int, str | None]], worker: str, now: datetime
) -> set[int]:
    """Record a group of sends in one statement; the ids marked are those this worker still held (a lease lost
    meanwhile belongs to the worker that took it over, which records its own outcome). On PostgreSQL, run it in a
    transaction: it plans with LOOKUP_BY_ID for that transaction."""
    if not sent:
        return set()
    await plan_without(conn, LOOKUP_BY_ID)
    refs = json.dumps({str(i): ref for i, ref in sent})
    params = {"b_ids": [i for i, _ in sent], "b_worker": worker, "b_at": now, "b_refs": refs}
    return set((await conn.execute(_mark_sent(conn.dialect.name), params)).scalars())


# mark_sent_all on PostgreSQL, as one fixed text: the ids and refs as two arrays, so every group size is the same
# statement, which asyncpg prepares once per connection. It is meant to read the group's rows by id (the primary
# key) and nothing else; the status test is written so that no index on status can answer it, and the connection
# that runs it plans with LOOKUP_BY_ID. Left to the statistics (never analysed: the outbox looks tiny), the generic
# plan PostgreSQL settles on after a few runs read every row whose status is 'sending' through ix_outbox_done as a
# bitmap, dead row versions included until vacuumed: 615 buffers a group after 16,000 sends, against 67 after 1,000,
# so the cost of recording grew with every message sent. Without that index it read the whole table instead.
_MARK_SENT_PG = (
    "UPDATE outbox SET status = 'sent', sent_at = $3, ref = ($2::text[])[array_position($1::bigint[], outbox.id)], "
    "lease_until = NULL, last_error = NULL WHERE outbox.id = ANY($1::bigint[]) AND outbox.leased_by = $4 "
    "AND coalesce(outbox.status, '') = 'sending' RETURNING outbox.id"
)


async def mark_sent_alone(
    conn: AsyncConnection, sent: Sequence[tuple[int, str | None]], worker: str, now: datetime
) -> set[int]:
    """mark_sent_all on a PostgreSQL connection in AUTOCOMMIT mode (the statement commits by itself), handed to
    asyncpg directly: the worker runs it for every few messages, and building, compiling and binding it through
    SQLAlchemy cost more CPU than the database's own work. Never inside a transaction: SQLAlchemy would not know of
    the statement and might not have begun its transaction yet."""
    return await mark_sent_driver((await conn.get_raw_connection()).driver_connection, sent, worker, now)


async def mark_sent_driver(raw: Any, sent: Sequence[tuple[int, str | None]], worker: str, now: datetime) -> set[int]:
    """mark_sent_alone on the asyncpg connection itself (KeptConnection keeps it at hand)."""
    if not sent:
        return set()
    rows = await raw.fetch(_MARK_SENT_PG, [i for i, _ in sent], [r for _, r in sent], now, worker)
    return {r[0] for r in rows}


async def record_sent(
    conn: AsyncConnection, sent: Sequence[tuple[OutboxItem, str | None]], worker: str, now: datetime
) -> set[int]:
    """Mark a group of sends and, for each question among those still leased to `worker`, record on its survey
    the ref it went out as; the ids marked are returned."""
    done = await mark_sent_all(conn, [(item.id, ref) for item, ref in sent], worker, now)
    asked = [(i.survey_id, ref) for i, ref in sent if i.id in done and i.kind == ASK_SCORE and i.survey_id is not None]
    await qs.record_asked(conn, asked, now)
    return done


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
