"""Survey rows: written from a core.survey.Survey (with the report rollups' change), read back by id, by due time
or by profile, and the columns the worker and platforms set on them (the question's ref, a skip when the customer
can't be reached). Every function takes the caller's connection so they compose into one transaction; statements on
the hot path are built once with bound parameters, so SQLAlchemy compiles each only once. Finding the survey an
inbound message answers is core/store/survey_lookup.py's; the contact's side, core/store/reachability.py's."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store import rollups
from core.store.tables import SurveyRow
from core.survey import OPEN_STATES, Kind, Policy, SkipReason, State, Survey
from core.types import Address

S = SurveyRow.__table__


def case_key(address: Address, case_id: str) -> str:
    return f"{address.profile}\x1f{address.channel}\x1f{case_id}"


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
