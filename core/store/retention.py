"""The retention pass's SQL: anonymising finished surveys by batches of ids, and
pruning operational rows past their useful life. Every statement touches at most one batch, so each runs in a short
transaction of its own and the reply path never waits long behind it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, case, cast, delete, exists, func, or_, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from core.retention import ANONYMOUS
from core.store import rollups
from core.store.tables import ContactRow, InboundJournalRow, InboundKeyRow, OutboxRow, SurveyRow, WebSessionRow
from core.survey import OPEN_STATES

S = SurveyRow.__table__
C = ContactRow.__table__
K = InboundKeyRow.__table__
OB = OutboxRow.__table__
J = InboundJournalRow.__table__
W = WebSessionRow.__table__

OPEN = [str(s) for s in OPEN_STATES]
DONE_MESSAGES = ("sent", "dead")  # an outbox row in any other state is still to be sent
# Keys in one IN list: asyncpg sends at most 32,767 bound parameters a statement, and a batch may be 100,000.
MAX_LIST = 10_000


def _chunks(keys: Sequence[Any]) -> list[list[Any]]:
    """A batch's keys, in lists short enough for one statement each."""
    return [list(keys[i : i + MAX_LIST]) for i in range(0, len(keys), MAX_LIST)]


# ---- finished surveys -------------------------------------------------------------------------------------------


async def oldest_open(conn: AsyncConnection, profile: str) -> datetime | None:
    """When the profile's oldest survey still open was created: the pass may not move past it. Grouped, so
    PostgreSQL reads the few open surveys by their state instead of walking the creation-time index from the
    oldest survey (open ones are the newest, so a plain min() read nearly the whole index)."""
    q = select(func.min(S.c.created_at)).where(S.c.profile == profile, S.c.state.in_(OPEN)).group_by(S.c.profile)
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
    if conn.dialect.name == "postgresql":
        # Planned for this batch's values every time. asyncpg prepares statements and PostgreSQL moves to a generic
        # plan after five runs; blind to the values, that plan cannot tell a batch is small, and sorted every
        # survey between `after` and `high` for each batch (0.5-1 s a batch at 1M surveys instead of 15 ms).
        await conn.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
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
    done = 0
    for some in _chunks(ids):
        stmt = update(S).where(S.c.id.in_(some), _has_comment()).values(comment=None, unparsed=[])
        async with rollups.recounting(conn, [S.c.id.in_(some)], ("report_days",)):  # the comment counts
            done += (await conn.execute(stmt)).rowcount
    return done


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
    done = 0
    for some in _chunks(ids):
        async with rollups.recounting(conn, [S.c.id.in_(some)], ("report_days",)):  # the ref counts as sent
            done += await _anonymise(conn, some, values, keep_metadata)
    return done


async def _anonymise(conn: AsyncConnection, some: list[Any], values: dict[str, Any], keep: Sequence[str]) -> int:
    """One list of ids of `anonymise`."""
    todo = [S.c.id.in_(some), _holds("personal")]
    if not keep:
        return (await conn.execute(update(S).where(*todo).values(**values, extra={}))).rowcount
    rows = (await conn.execute(select(S.c.id, S.c.extra).where(*todo))).all()
    # Only the kept keys stay. The two backends share no JSON functions, so the remainders are worked out here,
    # and the surveys left with the same one (usually few: nothing kept, or one of a handful of plans) are
    # updated together, not one by one.
    same: dict[str, list[int]] = {}
    for row in rows:
        kept = {k: v for k, v in (row.extra or {}).items() if k in keep}
        same.setdefault(json.dumps(kept, sort_keys=True), []).append(int(row.id))
    for kept, group in same.items():
        await conn.execute(update(S).where(S.c.id.in_(group)).values(**values, extra=json.loads(kept)))
    return len(rows)


async def drop_messages_of(conn: AsyncConnection, ids: Sequence[int]) -> int:
    """Sent and dead messages of these surveys: alerts and events in them quote the comment and name the customer."""
    done = 0
    for some in _chunks(ids):
        stmt = delete(OB).where(OB.c.survey_id.in_(some), OB.c.status.in_(DONE_MESSAGES))
        done += (await conn.execute(stmt)).rowcount
    return done


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
    quiet = select(C.c.id).where(C.c.profile == profile, *kept, *_quiet_since(cutoff))
    return quiet.order_by(C.c.last_surveyed_at)


def named_contacts(profile: str, cutoff: datetime) -> Select[Any]:
    named = select(C.c.id).where(C.c.profile == profile, C.c.name.is_not(None), *_quiet_since(cutoff))
    return named.order_by(C.c.last_surveyed_at)


async def forget_names(conn: AsyncConnection, profile: str, cutoff: datetime, limit: int) -> int:
    ids = (await conn.execute(named_contacts(profile, cutoff).limit(limit))).scalars().all()
    done = 0
    for some in _chunks(ids):
        done += (await conn.execute(update(C).where(C.c.id.in_(some)).values(name=None))).rowcount
    return done


# ---- operational rows -------------------------------------------------------------------------------------------
# Candidates come oldest first, in the order of the index the pass reads them by: a batch then reads that index
# from its start and stops after `limit` rows. Unordered, PostgreSQL may pick a plan that walks a whole table for
# each batch (the open-survey check of sent messages did: a merge anti-join over every survey).


def sent_messages(cutoff: datetime) -> Select[Any]:
    """Delivered messages queued before `cutoff` whose survey is no longer open (a thread reply to an open survey
    is matched through its sent messages' refs)."""
    still_open = exists().where(S.c.id == OB.c.survey_id, S.c.state.in_(OPEN))
    sent = select(OB.c.id).where(OB.c.status == "sent", OB.c.created_at < cutoff, ~still_open)
    return sent.order_by(OB.c.created_at)


def dead_letters(cutoff: datetime) -> Select[Any]:
    return select(OB.c.id).where(OB.c.status == "dead", OB.c.created_at < cutoff).order_by(OB.c.created_at)


def delivery_keys(cutoff: datetime) -> Select[Any]:
    return select(K.c.key).where(K.c.received_at < cutoff).order_by(K.c.received_at)


def dead_requests(cutoff: datetime) -> Select[Any]:
    return select(J.c.id).where(J.c.status == "dead", J.c.received_at < cutoff).order_by(J.c.received_at)


def expired_sessions(now: datetime) -> Select[Any]:
    return select(W.c.id_hash).where(W.c.expires_at <= now).order_by(W.c.expires_at)


async def delete_batch(conn: AsyncConnection, candidates: Select[Any], limit: int) -> int:
    """Delete up to `limit` of the rows `candidates` selects (by its one key column). The keys are read first and
    deleted by list: with `IN (subquery)` PostgreSQL may hash the batch and scan the whole table to match it."""
    column = candidates.selected_columns[0]
    table = column.table
    keys = (await conn.execute(candidates.limit(limit))).scalars().all()
    done = 0
    for some in _chunks(keys):
        done += (await conn.execute(delete(table).where(table.c[column.key].in_(some)))).rowcount
    return done


async def count(conn: AsyncConnection, candidates: Select[Any]) -> int:
    unordered = candidates.order_by(None)
    return int((await conn.execute(select(func.count()).select_from(unordered.subquery()))).scalar_one())
