"""Queries for erasing and exporting one person and for the suppression list. A person is (channel, user id) within
a set of profiles; every lookup goes through an index (surveys by ix_survey_person, contacts by their unique key,
outbox rows by survey id or ordering key); only the inbound dedup keys and a profile's journal rows are scanned,
by a LIKE on the id."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, case, cast, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store import rollups
from core.store.inserts import insert_ignore
from core.store.privacy_tables import PrivacyKeyRow, SuppressionRow
from core.store.tables import ContactRow, InboundJournalRow, InboundKeyRow, OutboxRow, SurveyRow
from core.survey import OPEN_STATES, SkipReason, State

S = SurveyRow.__table__
C = ContactRow.__table__
OB = OutboxRow.__table__
J = InboundJournalRow.__table__
K = InboundKeyRow.__table__
SUP = SuppressionRow.__table__
PK = PrivacyKeyRow.__table__
OPEN = [str(s) for s in OPEN_STATES]
UNSENT = ("pending", "sending")


def _contains(needle: str) -> str:
    """A LIKE pattern matching `needle` anywhere, its own wildcards taken literally (escape character \\)."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# ---- the key and the suppression list -------------------------------------------------------------------------


async def stored_key(
    conn: AsyncConnection, name: str, *, create: str | None = None, now: datetime | None = None
) -> str | None:
    """The secret stored under `name`; with `create`, that secret is stored first unless one already is (the first
    process to get here wins, and every process then reads the same one)."""
    if create is not None:
        stmt = insert_ignore(conn.dialect.name, PK, ("name", "secret", "created_at"), ("name",))
        await conn.execute(stmt, {"name": name, "secret": create, "created_at": now})
    return (await conn.execute(select(PK.c.secret).where(PK.c.name == name))).scalar_one_or_none()


def suppressed_clause(hashes: Sequence[str]) -> Any:
    """EXISTS (an entry with one of `hashes`): one primary-key probe per hash."""
    return exists().where(SUP.c.hash.in_(list(hashes)))


async def suppressed_hashes(conn: AsyncConnection, hashes: Collection[str]) -> set[str]:
    if not hashes:
        return set()
    return set((await conn.execute(select(SUP.c.hash).where(SUP.c.hash.in_(sorted(hashes))))).scalars())


async def suppress(conn: AsyncConnection, entries: Sequence[tuple[str, str, str]], now: datetime) -> int:
    """Add (hash, profile, channel) entries; one already listed stays as it was. Returns how many were new."""
    stmt = insert_ignore(conn.dialect.name, SUP, ("hash", "profile", "channel", "created_at"), ("hash",))
    added = 0
    for digest, profile, channel in entries:
        result = await conn.execute(stmt, {"hash": digest, "profile": profile, "channel": channel, "created_at": now})
        added += max(result.rowcount, 0)
    return added


# ---- finding a person -----------------------------------------------------------------------------------------


def _person(table: Any, channel: str, user_id: str, profiles: Collection[str] | None) -> list[Any]:
    cond = [table.c.channel == channel, table.c.user_id == user_id]
    if profiles is not None:
        cond.append(table.c.profile.in_(sorted(profiles)))
    return cond


async def survey_profiles(conn: AsyncConnection, channel: str, user_id: str) -> set[str]:
    """Every profile holding a survey of this person (configured or not any more)."""
    q = select(S.c.profile).where(*_person(S, channel, user_id, None)).distinct()
    return set((await conn.execute(q)).scalars())


async def person_surveys(
    conn: AsyncConnection, channel: str, user_id: str, profiles: Collection[str], *, lock: bool = False
) -> list[dict[str, Any]]:
    q = select(S).where(*_person(S, channel, user_id, profiles)).order_by(S.c.id)
    if lock:
        q = q.with_for_update()
    return [dict(r._mapping) for r in (await conn.execute(q)).all()]


async def person_contacts(
    conn: AsyncConnection, channel: str, user_id: str, profiles: Collection[str]
) -> list[dict[str, Any]]:
    q = select(C).where(*_person(C, channel, user_id, profiles)).order_by(C.c.profile)
    return [dict(r._mapping) for r in (await conn.execute(q)).all()]


async def outbox_rows(
    conn: AsyncConnection, survey_ids: Collection[int], ordering_keys: Collection[str]
) -> list[dict[str, Any]]:
    """Messages queued for the person's surveys (to them, about them to the team, events carrying them), and any
    message to a conversation that is theirs alone."""
    found: dict[int, dict[str, Any]] = {}
    if survey_ids:
        q = select(OB).where(OB.c.survey_id.in_(sorted(survey_ids)))
        found |= {r.id: dict(r._mapping) for r in (await conn.execute(q)).all()}
    if ordering_keys:
        q = select(OB).where(OB.c.ordering_key.in_(sorted(ordering_keys)))
        found |= {r.id: dict(r._mapping) for r in (await conn.execute(q)).all()}
    return [found[i] for i in sorted(found)]


async def journal_rows(
    conn: AsyncConnection, channel: str, profiles: Collection[str], needle: str
) -> list[dict[str, Any]]:
    """Raw requests of this channel and these profiles, not yet processed (or given up on), that hold `needle`."""
    q = (
        select(J)
        .where(J.c.channel == channel, J.c.profile.in_(sorted(profiles)), J.c.body.like(_contains(needle), escape="\\"))
        .order_by(J.c.id)
    )
    return [dict(r._mapping) for r in (await conn.execute(q)).all()]


# ---- erasing --------------------------------------------------------------------------------------------------


async def delete_outbox(conn: AsyncConnection, ids: Collection[int]) -> int:
    if not ids:
        return 0
    return (await conn.execute(delete(OB).where(OB.c.id.in_(sorted(ids))))).rowcount


async def rewrite_outbox(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> int:
    """Store each row's rewritten ordering key, target, payload, ref and last error (rows: those keys and `id`)."""
    if not rows:
        return 0
    stmt = (
        update(OB)
        .where(OB.c.id == bindparam("row_id"))
        .values(
            ordering_key=bindparam("new_ordering_key"),
            target=bindparam("new_target", type_=OB.c.target.type),
            payload=bindparam("new_payload", type_=OB.c.payload.type),
            ref=bindparam("new_ref"),
            last_error=bindparam("new_last_error"),
        )
    )
    params = [
        {"row_id": r["id"], **{f"new_{k}": r[k] for k in ("ordering_key", "target", "payload", "ref", "last_error")}}
        for r in rows
    ]
    await conn.execute(stmt, params)
    return len(rows)


async def anonymise_surveys(conn: AsyncConnection, ids: Collection[int], marker: str, now: datetime) -> int:
    """The person's fields become `marker` (or empty); scores, categories, times, agent, team, channel and profile
    stay, so every report figure is unchanged. A survey still open ends as the clock would have ended it without
    sending anything: a pending one is skipped (suppressed), an asked one expires, a scored one completes."""
    if not ids:
        return 0
    state = S.c.state
    still_counts = S.c.case_key.is_not(None) & (state != str(State.PENDING))
    stmt = (
        update(S)
        .where(S.c.id.in_(sorted(ids)))
        .values(
            user_id=marker,
            conversation_id=marker,
            thread=None,
            case_id=marker,
            # A survey that counted for its case keeps a key of its own, so "one survey per case" still holds.
            case_key=case((still_counts, S.c.profile + "\x1f" + S.c.channel + "\x1ferased:" + cast(S.c.id, String))),
            customer_name=None,
            comment=None,
            unparsed=[],
            extra={},
            question_ref=None,
            state=case(
                (state == str(State.PENDING), str(State.SKIPPED)),
                (state == str(State.ASKED), str(State.EXPIRED)),
                (state == str(State.SCORED), str(State.COMPLETED)),
                else_=state,
            ),
            skip_reason=case((state == str(State.PENDING), str(SkipReason.SUPPRESSED)), else_=S.c.skip_reason),
            completed_at=case((state.in_(OPEN), now), else_=S.c.completed_at),
            due_at=None,
            next_check_at=None,
        )
    )
    # The comment, the question's ref and an open survey's state go, so comment, delivery, follow-up and skip
    # counts may change: the rollups follow.
    counted = ("report_days", "report_skips", "report_followups")  # a scored detractor becomes a completed one
    async with rollups.recounting(conn, [S.c.id.in_(sorted(ids))], counted):
        return (await conn.execute(stmt)).rowcount


async def delete_contacts(conn: AsyncConnection, channel: str, user_id: str, profiles: Collection[str]) -> int:
    return (await conn.execute(delete(C).where(*_person(C, channel, user_id, profiles)))).rowcount


async def delete_journal(conn: AsyncConnection, ids: Collection[int]) -> int:
    if not ids:
        return 0
    return (await conn.execute(delete(J).where(J.c.id.in_(sorted(ids))))).rowcount


async def delete_keys_holding(conn: AsyncConnection, needle: str) -> int:
    """Dedup keys that embed the id (a Slack action key names its user, an Idempotency-Key may): a scan of the
    table, whose size the retention pass bounds."""
    return (await conn.execute(delete(K).where(K.c.key.like(_contains(needle), escape="\\")))).rowcount
