"""Which survey an inbound message answers — by conversation and customer, by thread, by the message of ours it
replies to, or by case — and the claim of its delivery key, so a replayed delivery is recognised. Every function
takes the caller's connection so they compose into one transaction."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.channel import tag
from core.store import pg_direct
from core.store.inserts import insert_ignore
from core.store.surveys import case_key, to_survey
from core.store.tables import InboundKeyRow, OutboxRow, SurveyRow
from core.survey import ANSWERABLE_STATES, OPEN_STATES, State, Survey
from core.types import Address, AskComment, AskScore, Say

S = SurveyRow.__table__
K = InboundKeyRow.__table__
OB = OutboxRow.__table__

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
KEY_WIDTH = 255  # inbound_keys.key


def storable_key(key: str) -> str:
    """A delivery key as stored: one that is too long for the column, or holds what a database cannot store (NUL,
    undecodable header bytes), is hashed rather than cut, so two different keys never collapse into one."""
    if len(key) <= KEY_WIDTH and not _UNSTORABLE.search(key):
        return key
    return f"sha256:{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()}"


async def claim_inbound(conn: AsyncConnection, key: str, now: datetime) -> bool:
    """True the first time a delivery key is seen; False for every replay."""
    stmt = insert_ignore(conn.dialect.name, K, ("key", "received_at"), ("key",))
    result = await conn.execute(stmt, {"key": storable_key(key), "received_at": now})
    return result.rowcount == 1


async def find_survey(
    conn: AsyncConnection,
    address: Address,
    states: frozenset[State] = ANSWERABLE_STATES,
    *,
    lock: bool = True,
    reply_to: str | None = None,
) -> Survey | None:
    """The newest survey in `states` for this customer in this conversation (row-locked for the update).

    An empty user id matches any customer (a reopen names the conversation only); a thread narrows the match
    to that thread (Slack). `reply_to` (the ref of our message a thread reply hangs under) widens a thread match to
    the survey that message was sent for, when that survey was asked outside any thread.
    """
    by_reply = address.thread is not None and reply_to is not None
    q = _find(tuple(sorted(str(s) for s in states)), bool(address.user_id), address.thread is not None, lock, by_reply)
    row = (await conn.execute(q, _find_params(address, reply_to))).first()
    return None if row is None else to_survey(row)


async def find_and_claim(
    conn: AsyncConnection,
    address: Address,
    key: str,
    now: datetime,
    states: frozenset[State] = ANSWERABLE_STATES,
    *,
    reply_to: str | None = None,
) -> tuple[Survey | None, bool]:
    """The survey `find_survey` returns (row-locked), and whether `key` was claimed for it: True the first time,
    False for a replay. With no survey nothing is claimed; the caller records the key itself.

    PostgreSQL does both in one statement; elsewhere they are two, in the same transaction.
    """
    if conn.dialect.name != "postgresql":
        survey = await find_survey(conn, address, states, reply_to=reply_to)
        return survey, survey is not None and await claim_inbound(conn, key, now)
    by_thread = address.thread is not None
    stmt = _find_claim(
        tuple(sorted(str(s) for s in states)), bool(address.user_id), by_thread, by_thread and reply_to is not None
    )
    params = _find_params(address, reply_to) | {"key": storable_key(key), "received_at": now}
    rows = await pg_direct.fetch(conn, stmt, params)  # the reply path: without SQLAlchemy's execution around it
    return (None, False) if not rows else (to_survey(rows[0]), rows[0].claimed)


@cache
def _find_claim(states: tuple[str, ...], by_user: bool, by_thread: bool, by_reply: bool) -> Any:
    """WITH found AS (SELECT … FOR UPDATE), claimed AS (INSERT the key for the found row ON CONFLICT DO NOTHING)
    SELECT found.*, EXISTS (claimed): the row is locked before the key, as `find_survey` then `claim_inbound` do,
    and the row comes from the locking query, so it is the latest committed version."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    found = _find(states, by_user, by_thread, True, by_reply).cte("found")
    values = select(
        bindparam("key", type_=K.c.key.type), bindparam("received_at", type_=K.c.received_at.type)
    ).select_from(found)
    claimed = (
        pg_insert(K)
        .from_select(["key", "received_at"], values)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(K.c.key)
        .cte("claimed")
    )
    return select(*found.c, exists(select(claimed.c.key)).label("claimed"))


def _find_params(address: Address, reply_to: str | None = None) -> dict[str, Any]:
    params = {
        "profile": address.profile,
        "channel": address.channel,
        "conversation_id": address.conversation_id,
        "user_id": address.user_id,
        "thread": address.thread,
    }
    if reply_to is not None:
        params["reply_to"] = reply_to
    return params


# What we send a customer for a survey: a reply hanging under one of these answers that survey.
REPLIED_KINDS = tuple(tag(t) for t in (AskScore, AskComment, Say))


@cache
def _find(states: tuple[str, ...], by_user: bool, by_thread: bool, lock: bool, by_reply: bool = False) -> Any:
    cond = [
        S.c.profile == bindparam("profile"),
        S.c.channel == bindparam("channel"),
        S.c.conversation_id == bindparam("conversation_id"),
        # One bound parameter per state, not an expanding list: the statement then needs no per-execution rewrite.
        S.c.state.in_([bindparam(f"state_{i}", state, type_=S.c.state.type) for i, state in enumerate(states)]),
    ]
    if by_user:
        cond.append(S.c.user_id == bindparam("user_id"))
    if by_thread and by_reply:
        # The thread itself, or none when the reply hangs under a message we sent for the survey (the outbox
        # row holds its ref; found through the outbox's survey_id index).
        kinds = [bindparam(f"kind_{i}", kind, type_=OB.c.kind.type) for i, kind in enumerate(REPLIED_KINDS)]
        sent = exists().where(OB.c.survey_id == S.c.id, OB.c.ref == bindparam("reply_to"), OB.c.kind.in_(kinds))
        cond.append(or_(S.c.thread == bindparam("thread"), and_(S.c.thread.is_(None), sent)))
    elif by_thread:
        cond.append(S.c.thread == bindparam("thread"))
    q = select(S).where(and_(*cond)).order_by(S.c.id.desc()).limit(1)
    return q.with_for_update() if lock else q


async def find_open_by_case(conn: AsyncConnection, address: Address, case_id: str) -> Survey | None:
    q = (
        select(S)
        .where(S.c.case_key == case_key(address, case_id), S.c.state.in_([str(s) for s in OPEN_STATES]))
        .with_for_update()
    )
    row = (await conn.execute(q)).first()
    return None if row is None else to_survey(row)
