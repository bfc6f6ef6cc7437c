"""The retention pass's SQL: the chore schedule and its lease, anonymising finished surveys by batches of ids, and
pruning operational rows past their useful life. Every statement touches at most one batch, so each runs in a short
transaction of its own and the reply path never waits long behind it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, Text, case, cast, delete, exists, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from core.retention import ANONYMOUS
from core.store.retention_tables import ChoreRow
from core.store.tables import ContactRow, InboundJournalRow, InboundKeyRow, OutboxRow, SurveyRow, WebSessionRow
from core.survey import OPEN_STATES

CH = ChoreRow.__table__
S = SurveyRow.__table__
C = ContactRow.__table__
K = InboundKeyRow.__table__
OB = OutboxRow.__table__
J = InboundJournalRow.__table__
W = WebSessionRow.__table__

OPEN = [str(s) for s in OPEN_STATES]
DONE_MESSAGES = ("sent", "dead")  # an outbox row in any other state is still to be sent


# ---- the schedule -----------------------------------------------------------------------------------------------


async def claim_chore(
    conn: AsyncConnection, name: str, owner: str, now: datetime, lease: timedelta, *, force: bool = False
) -> dict[str, Any] | None:
    """Take the chore's turn if it is due (or `force`, for a run by hand) and nobody holds it: its stored state, or
    None. One UPDATE: on PostgreSQL a second worker's waits for the first's commit and then finds the lease held."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    first = insert(CH).values(name=name, due_at=now, state={}, last_counts={})
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


async def release_chore(conn: AsyncConnection, name: str, owner: str) -> None:
    """Give the turn back after a failure: the next worker to look may run it at once."""
    await conn.execute(update(CH).where(CH.c.name == name, CH.c.leased_by == owner).values(lease_until=None))


async def chore(conn: AsyncConnection, name: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(CH).where(CH.c.name == name))).first()
    return None if row is None else dict(row._mapping)


# ---- finished surveys -------------------------------------------------------------------------------------------


async def oldest_open(conn: AsyncConnection, profile: str) -> datetime | None:
    """When the profile's oldest survey still open was created: the pass may not move past it."""
    q = select(func.min(S.c.created_at)).where(S.c.profile == profile, S.c.state.in_(OPEN))
    return (await conn.execute(q)).scalar()


def _finished(profile: str, low: datetime | None, high: datetime) -> list[Any]:
    cond = [S.c.created_at < high, S.c.profile == profile, S.c.state.not_in(OPEN)]
    if low is not None:
        cond.append(S.c.created_at >= low)
    # Skipped at the start, a survey has no completion time; one completed before `high` was created before it too.
    cond.append(func.coalesce(S.c.completed_at, S.c.created_at) < high)
    return cond


async def finished_batch(
    conn: AsyncConnection,
    profile: str,
    low: datetime | None,
    high: datetime,
    after: tuple[datetime, int] | None,
    limit: int,
    stage: str,
) -> list[tuple[int, datetime]]:
    """The next finished surveys created in [low, high) that still hold what `stage` ("comments" or "personal")
    removes, in (created_at, id) order after `after`."""
    cond = [*_finished(profile, low, high), _holds(stage)]
    if after is not None:
        cond.append(tuple_(S.c.created_at, S.c.id) > tuple_(*after))
    q = select(S.c.id, S.c.created_at).where(*cond).order_by(S.c.created_at, S.c.id).limit(limit)
    return [(int(r.id), r.created_at) for r in (await conn.execute(q)).all()]


def _holds(stage: str) -> Any:
    if stage == "comments":
        return _has_comment()
    return or_(S.c.user_id != ANONYMOUS, S.c.customer_name.is_not(None))


def _has_comment() -> Any:
    return or_(S.c.comment.is_not(None), cast(S.c.unparsed, Text) != "[]")


async def count_finished(conn: AsyncConnection, profile: str, low: datetime | None, high: datetime, stage: str) -> int:
    cond = [*_finished(profile, low, high), _holds(stage)]
    return int((await conn.execute(select(func.count()).select_from(S).where(*cond))).scalar_one())


async def remove_comments(conn: AsyncConnection, ids: Sequence[int]) -> int:
    """The comment and the replies that were not a score go; returns how many surveys had any."""
    stmt = update(S).where(S.c.id.in_(list(ids)), _has_comment()).values(comment=None, unparsed=[])
    return (await conn.execute(stmt)).rowcount


async def anonymise(conn: AsyncConnection, ids: Sequence[int], keep_metadata: Sequence[str]) -> int:
    """Everything that names the customer goes: name, user / conversation / thread / case ids (the survey's own
    case key stays unique), the question's platform ref, and metadata but for the keys the operator keeps. Scores,
    categories, times, agent, team, channel and locale stay, so the report's figures are unchanged."""
    if not ids:
        return 0
    values: dict[str, Any] = {
        "user_id": ANONYMOUS,
        "conversation_id": ANONYMOUS,
        "thread": None,
        "case_id": ANONYMOUS,
        "case_key": case(
            (S.c.case_key.is_not(None), S.c.profile + "\x1f" + S.c.channel + f"\x1f{ANONYMOUS}:" + cast(S.c.id, String))
        ),
        "customer_name": None,
        "question_ref": None,
    }
    todo = [S.c.id.in_(list(ids)), _holds("personal")]
    if not keep_metadata:
        return (await conn.execute(update(S).where(*todo).values(**values, extra={}))).rowcount
    rows = (await conn.execute(select(S.c.id, S.c.extra).where(*todo))).all()
    for row in rows:  # only the kept keys: per row, as the two backends share no JSON functions
        kept = {k: v for k, v in (row.extra or {}).items() if k in keep_metadata}
        await conn.execute(update(S).where(S.c.id == row.id).values(**values, extra=kept))
    return len(rows)


async def drop_messages_of(conn: AsyncConnection, ids: Sequence[int]) -> int:
    """Sent and dead messages of these surveys: alerts and events in them quote the comment and name the customer."""
    stmt = delete(OB).where(OB.c.survey_id.in_(list(ids)), OB.c.status.in_(DONE_MESSAGES))
    return (await conn.execute(stmt)).rowcount


# ---- contacts ---------------------------------------------------------------------------------------------------


def _quiet_since(cutoff: datetime) -> list[Any]:
    """Not surveyed (nor, where the column exists, heard from) since `cutoff`."""
    cond = [C.c.last_surveyed_at < cutoff]
    seen = C.c.get("last_inbound_at")
    if seen is not None:
        cond.append(or_(seen.is_(None), seen < cutoff))
    return cond


def stale_contacts(profile: str, cutoff: datetime) -> Select[Any]:
    """Contacts with nothing to remember: not opted out, reachable, quiet since `cutoff`. Opted-out and unreachable
    ones stay (their wish, or the platform's answer, must outlive the data), without their name."""
    kept = [C.c.opted_out_at.is_(None), C.c.unreachable_at.is_(None)]
    return select(C.c.id).where(C.c.profile == profile, *kept, *_quiet_since(cutoff))


def named_contacts(profile: str, cutoff: datetime) -> Select[Any]:
    return select(C.c.id).where(C.c.profile == profile, C.c.name.is_not(None), *_quiet_since(cutoff))


async def forget_names(conn: AsyncConnection, profile: str, cutoff: datetime, limit: int) -> int:
    ids = named_contacts(profile, cutoff).limit(limit).scalar_subquery()
    return (await conn.execute(update(C).where(C.c.id.in_(ids)).values(name=None))).rowcount


# ---- operational rows -------------------------------------------------------------------------------------------


def sent_messages(cutoff: datetime) -> Select[Any]:
    """Delivered messages queued before `cutoff` whose survey is no longer open (a thread reply to an open survey
    is matched through its sent messages' refs)."""
    still_open = exists().where(S.c.id == OB.c.survey_id, S.c.state.in_(OPEN))
    return select(OB.c.id).where(OB.c.status == "sent", OB.c.created_at < cutoff, ~still_open)


def dead_letters(cutoff: datetime) -> Select[Any]:
    return select(OB.c.id).where(OB.c.status == "dead", OB.c.created_at < cutoff)


def delivery_keys(cutoff: datetime) -> Select[Any]:
    return select(K.c.key).where(K.c.received_at < cutoff)


def dead_requests(cutoff: datetime) -> Select[Any]:
    return select(J.c.id).where(J.c.status == "dead", J.c.received_at < cutoff)


def expired_sessions(now: datetime) -> Select[Any]:
    return select(W.c.id_hash).where(W.c.expires_at <= now)


async def delete_batch(conn: AsyncConnection, candidates: Select[Any], limit: int) -> int:
    """Delete up to `limit` of the rows `candidates` selects (by its one key column)."""
    column = candidates.selected_columns[0]
    table = column.table
    ids = candidates.limit(limit).scalar_subquery()
    return (await conn.execute(delete(table).where(table.c[column.key].in_(ids)))).rowcount


async def count(conn: AsyncConnection, candidates: Select[Any]) -> int:
    return int((await conn.execute(select(func.count()).select_from(candidates.subquery()))).scalar_one())
