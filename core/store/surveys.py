"""Survey, contact and inbound-key queries. Every function takes the caller's connection so they compose
into one transaction."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.channel import tag
from core.store import rollups
from core.store.inserts import insert_ignore
from core.store.installation_tables import InstallationRow
from core.store.privacy import suppressed_clause
from core.store.tables import ContactRow, DeadEndpointRow, InboundKeyRow, OutboxRow, SurveyRow
from core.survey import ANSWERABLE_STATES, OPEN_STATES, ContactStatus, Kind, Policy, SkipReason, State, Survey
from core.types import Address, AskComment, AskScore, Say

S = SurveyRow.__table__
C = ContactRow.__table__
K = InboundKeyRow.__table__
D = DeadEndpointRow.__table__
OB = OutboxRow.__table__
IN = InstallationRow.__table__


# Statements on the hot path are built once with bound parameters, so SQLAlchemy compiles each only once.


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


def case_key(address: Address, case_id: str) -> str:
    return f"{address.profile}\x1f{address.channel}\x1f{case_id}"


async def contact_status(
    conn: AsyncConnection, address: Address, case_id: str, suppressed_by: Sequence[str] = ()
) -> ContactStatus:
    """`suppressed_by`: the hashes the address would be on the suppression list under (core.suppression)."""
    row = (
        await conn.execute(
            select(C.c.opted_out_at, C.c.unreachable_at, C.c.last_surveyed_at, C.c.locale, C.c.timezone).where(
                C.c.profile == address.profile, C.c.channel == address.channel, C.c.user_id == address.user_id
            )
        )
    ).first()
    taken_q = exists().where(S.c.case_key == case_key(address, case_id))
    listed_q = suppressed_clause(suppressed_by) if suppressed_by else literal(False)
    taken, listed = (await conn.execute(select(taken_q, listed_q))).one()
    taken, listed = bool(taken), bool(listed)
    if row is None:
        return ContactStatus(has_open_survey_for_case=taken, suppressed=listed)
    return ContactStatus(
        opted_out=row.opted_out_at is not None,
        unreachable=row.unreachable_at is not None,
        last_surveyed_at=row.last_surveyed_at,
        has_open_survey_for_case=taken,
        locale=row.locale,
        suppressed=listed,
        timezone=row.timezone,
    )


async def touch_contact(conn: AsyncConnection, address: Address, **values: Any) -> None:
    """Create the contact if new, then set the given columns (None values are left as they are)."""
    base = {"profile": address.profile, "channel": address.channel, "user_id": address.user_id}
    key = ("profile", "channel", "user_id")
    await conn.execute(insert_ignore(conn.dialect.name, C, key, key), base)
    values = {k: v for k, v in values.items() if v is not None}
    if values:
        await conn.execute(
            update(C)
            .where(C.c.profile == address.profile, C.c.channel == address.channel, C.c.user_id == address.user_id)
            .values(**values)
        )


def _row_values(survey: Survey, policy: Policy) -> dict[str, Any]:
    a = survey.address
    counts = survey.state is not State.SKIPPED and survey.case_id is not None
    return {
        "profile": a.profile,
        "channel": a.channel,
        "conversation_id": a.conversation_id,
        "user_id": a.user_id,
        "thread": a.thread,
        "workspace": a.workspace,
        "case_id": survey.case_id or a.conversation_id,
        "case_key": case_key(a, survey.case_id) if counts and survey.case_id else None,
        "agent": survey.agent,
        "team": survey.team,
        "locale": survey.locale,
        "customer_name": survey.customer_name,
        "state": str(survey.state),
        "skip_reason": None if survey.skip_reason is None else str(survey.skip_reason),
        "score": survey.score,
        "category": survey.category,
        "comment": survey.comment,
        "reasks": survey.reasks,
        "unparsed": list(survey.unparsed),
        "created_at": survey.created_at,
        "due_at": survey.due_at,
        "asked_at": survey.asked_at,
        "scored_at": survey.scored_at,
        "completed_at": survey.completed_at,
        "next_check_at": survey.next_deadline(policy),
        "priority": survey.priority,
        "tags": list(survey.tags) if survey.tags else None,
        "matched_rules": list(survey.matched_rules) if survey.matched_rules else None,
        "kind": str(survey.kind),
        "campaign": survey.campaign,
        "variant": survey.variant,
        "timezone": survey.timezone,
        "reminded_at": survey.reminded_at,
    }


_ROW_COLUMNS = (
    "profile", "channel", "conversation_id", "user_id", "thread", "case_id", "case_key", "agent", "team", "locale",
    "customer_name", "state", "skip_reason", "score", "category", "comment", "reasks", "unparsed", "created_at",
    "due_at", "asked_at", "scored_at", "completed_at", "next_check_at", "workspace", "kind", "campaign", "variant",
    "timezone", "reminded_at",
)  # fmt: skip
_INSERT = insert(S).values({c: bindparam(c, type_=S.c[c].type) for c in (*_ROW_COLUMNS, "extra")}).returning(S.c.id)


@cache
def update_statement(columns: tuple[str, ...], prefix: str = "") -> Any:
    """UPDATE of `columns` by id; `prefix` names the parameters (`{prefix}_id`, `{prefix}{column}`) so the
    statement can sit beside others in one (see `steps`)."""
    return (
        update(S)
        .where(S.c.id == bindparam(f"{prefix}_id"))
        .values({c: bindparam(f"{prefix}{c}", type_=S.c[c].type) for c in columns})
    )


async def insert_survey(conn: AsyncConnection, survey: Survey, policy: Policy) -> int:
    result = await conn.execute(_INSERT, _row_values(survey, policy) | {"extra": survey.metadata})
    await rollups.apply(conn, None, survey)
    return int(result.scalar_one())


_FIXED = ("profile", "channel", "conversation_id", "user_id", "thread", "workspace", "case_id", "case_key",
          "created_at", "kind", "campaign")  # fmt: skip


def changed_values(old: Survey, new: Survey, policy: Policy) -> dict[str, Any]:
    """What changed between `old` (as read) and `new`, plus the state and the next deadline: fewer values to
    convert and send on the reply path than the whole row."""
    before, after = _row_values(old, policy), _row_values(new, policy)
    values = {c: v for c, v in after.items() if c not in _FIXED and v != before[c]}
    values |= {"state": after["state"], "next_check_at": after["next_check_at"]}
    if new.state is State.SKIPPED and new.skip_reason is SkipReason.REOPENED:
        values["case_key"] = None  # a withdrawn survey frees its case so the next close can survey it
    if new.metadata != old.metadata:
        values["extra"] = new.metadata
    return values


async def update_survey(conn: AsyncConnection, old: Survey, new: Survey, policy: Policy) -> None:
    values = changed_values(old, new, policy)
    await conn.execute(update_statement(tuple(sorted(values))), values | {"_id": new.id})
    await rollups.apply(conn, old, new)


def to_survey(row: Any) -> Survey:
    return Survey(
        id=row.id,
        address=Address(row.channel, row.profile, row.conversation_id, row.user_id, row.thread, row.workspace),
        state=State(row.state),
        locale=row.locale,
        created_at=row.created_at,
        case_id=row.case_id,
        agent=row.agent,
        team=row.team,
        customer_name=row.customer_name,
        skip_reason=None if row.skip_reason is None else SkipReason(row.skip_reason),
        score=row.score,
        comment=row.comment,
        reasks=row.reasks,
        unparsed=tuple(row.unparsed or ()),
        due_at=row.due_at,
        asked_at=row.asked_at,
        scored_at=row.scored_at,
        completed_at=row.completed_at,
        metadata=dict(row.extra or {}),
        priority=row.priority,
        tags=tuple(row.tags or ()),
        matched_rules=tuple(row.matched_rules or ()),
        kind=Kind(row.kind),
        campaign=row.campaign,
        variant=row.variant,
        timezone=row.timezone,
        reminded_at=row.reminded_at,
        row_extras={c: getattr(row, c, None) for c in rollups.EXTRAS} if hasattr(row, "claimed_at") else None,
    )


async def get_survey(conn: AsyncConnection, survey_id: int, *, lock: bool = False) -> Survey | None:
    q = select(S).where(S.c.id == survey_id)
    if lock:
        q = q.with_for_update()
    row = (await conn.execute(q)).first()
    return None if row is None else to_survey(row)


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
    row = (await conn.execute(stmt, params)).first()
    return (None, False) if row is None else (to_survey(row), row.claimed)


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


async def due_surveys(conn: AsyncConnection, now: datetime, limit: int, profiles: list[str]) -> list[Survey]:
    """Surveys whose next deadline has passed; PostgreSQL skips rows another worker is already stepping."""
    q = (
        select(S)
        .where(S.c.next_check_at <= now, S.c.profile.in_(profiles))
        .order_by(S.c.next_check_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [to_survey(r) for r in (await conn.execute(q)).all()]


async def profile_surveys(conn: AsyncConnection, profile: str) -> list[Survey]:
    """Every survey of a profile, oldest first (the demo reads its programme section's back)."""
    return [to_survey(r) for r in (await conn.execute(select(S).where(S.c.profile == profile).order_by(S.c.id)))]


async def contacts_when_due(conn: AsyncConnection, survey_ids: Sequence[int]) -> dict[int, ContactStatus]:
    """The contact of each survey as it stands now (opted out, unreachable, last asked, its workspace removed the
    app), by survey id: one query for a tick's batch. Survey and contact share (profile, channel, user_id); a
    survey without a contact record reads as a contact with nothing against it."""
    if not survey_ids:
        return {}
    person = and_(C.c.profile == S.c.profile, C.c.channel == S.c.channel, C.c.user_id == S.c.user_id)
    removed = exists().where(
        IN.c.channel == S.c.channel,
        IN.c.profile == S.c.profile,
        IN.c.workspace == S.c.workspace,
        IN.c.removed_at.is_not(None),
    )
    q = (
        select(S.c.id, C.c.opted_out_at, C.c.unreachable_at, C.c.last_surveyed_at, removed.label("uninstalled"))
        .select_from(S.outerjoin(C, person))
        .where(S.c.id.in_(sorted(survey_ids)))
    )
    return {
        r.id: ContactStatus(
            opted_out=r.opted_out_at is not None,
            unreachable=r.unreachable_at is not None,
            last_surveyed_at=r.last_surveyed_at,
            uninstalled=bool(r.uninstalled),
        )
        for r in (await conn.execute(q)).all()
    }


async def set_question_ref(conn: AsyncConnection, survey_id: int, ref: str) -> None:
    async with rollups.recounting(conn, [S.c.id == survey_id], ("report_days",)):  # a ref counts as sent
        await conn.execute(update(S).where(S.c.id == survey_id).values(question_ref=ref))


async def question_ref(conn: AsyncConnection, survey_id: int) -> str | None:
    return (await conn.execute(select(S.c.question_ref).where(S.c.id == survey_id))).scalar_one_or_none()


async def count_by_state(conn: AsyncConnection) -> dict[str, int]:
    rows = (await conn.execute(select(S.c.state, func.count()).group_by(S.c.state))).all()
    return {r[0]: int(r[1]) for r in rows}


async def skip_unreachable(conn: AsyncConnection, survey_id: int, now: datetime) -> None:
    """The customer can't be messaged any more: an open survey ends as skipped instead of waiting to expire."""
    async with rollups.recounting(conn, [S.c.id == survey_id], ("report_skips",)):
        await conn.execute(
            update(S)
            .where(S.c.id == survey_id, S.c.state.in_([str(s) for s in OPEN_STATES]))
            .values(
                state=str(State.SKIPPED), skip_reason=str(SkipReason.UNREACHABLE), next_check_at=None, completed_at=now
            )
        )


async def mark_endpoint_gone(conn: AsyncConnection, profile: str, url: str, now: datetime, reason: str) -> None:
    stmt = insert_ignore(conn.dialect.name, D, ("profile", "url", "gone_at", "reason"), ("profile", "url"))
    await conn.execute(stmt, {"profile": profile, "url": url[:1000], "gone_at": now, "reason": reason[:2000]})


async def gone_endpoints(conn: AsyncConnection, profile: str) -> set[str]:
    return set((await conn.execute(select(D.c.url).where(D.c.profile == profile))).scalars())
