"""The question's delivery status on its survey row (surveys.question_status / question_status_at), found by the ref
the channel returned for the question, or by the survey's id when the worker records the send itself; and the
skip of a survey whose question the platform refused outside its messaging window."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core import rollups as r
from core.question_status import FOLLOWS, QuestionStatus, may_follow
from core.store import rollups
from core.store.tables import ContactRow, SurveyRow
from core.survey import SkipReason, State

S, C = SurveyRow.__table__, ContactRow.__table__
UNANSWERED = (str(State.PENDING), str(State.ASKED))
OUTSIDE_WINDOW = SkipReason.OUTSIDE_WINDOW


@cache
def _advance(status: QuestionStatus, by_ref: bool, many: bool = False) -> Any:
    """UPDATE … SET status WHERE (the survey) AND the stored status is one `status` may replace: the check and the
    write are one statement, so two receipts racing can't move a status backwards."""
    before = FOLLOWS[status]
    allowed = [S.c.question_status.in_(sorted(str(s) for s in before if s is not None))]
    if None in before:
        allowed.append(S.c.question_status.is_(None))
    if by_ref:
        which = and_(
            S.c.question_ref == bindparam("b_ref"),
            S.c.profile == bindparam("b_profile"),
            S.c.channel == bindparam("b_channel"),
        )
    elif many:
        which = S.c.id.in_(bindparam("b_ids", expanding=True))
    else:
        which = S.c.id == bindparam("b_id")
    return (
        update(S)
        .where(which, or_(*allowed))
        .values(question_status=str(status), question_status_at=bindparam("b_at", type_=S.c.question_status_at.type))
    )


async def advance_by_ref(
    conn: AsyncConnection, profile: str, channel: str, ref: str, status: QuestionStatus, at: datetime
) -> bool:
    """True when a survey of this profile and channel asked its question as `ref` and the status moved forward."""
    params = {"b_ref": ref, "b_profile": profile, "b_channel": channel, "b_at": at}
    which = [S.c.question_ref == ref, S.c.profile == profile, S.c.channel == channel]
    async with rollups.recounting(conn, which, ("report_days",)):
        return (await conn.execute(_advance(status, True), params)).rowcount > 0


async def advance_by_id(conn: AsyncConnection, survey_id: int, status: QuestionStatus, at: datetime) -> bool:
    async with rollups.recounting(conn, [S.c.id == survey_id], ("report_days",)):
        return (await conn.execute(_advance(status, False), {"b_id": survey_id, "b_at": at})).rowcount > 0


@cache
def _set_ref() -> Any:
    return update(S).where(S.c.id == bindparam("b_id")).values(question_ref=bindparam("b_ref"))


@cache
def _read_asked(locking: bool) -> Any:
    """What report_days reads of the surveys a group of sends asked (the comment only as present or not), in id
    order; on PostgreSQL locked, so nothing else moves them between this read and the write."""
    comment = case((S.c.comment.is_not(None), "1")).label("comment")
    columns = ("id", "asked_at", "created_at", "state", "skip_reason", "score", "category", *r.DIMENSIONS, *r.EXTRAS)
    read = [*(S.c[c] for c in columns), comment]
    q = select(*read).where(S.c.id.in_(bindparam("b_ids", expanding=True))).order_by(S.c.id)
    return q.with_for_update() if locking else q


async def record_asked(conn: AsyncConnection, asked: list[tuple[int, str | None]], at: datetime) -> None:
    """The worker's record of questions it sent, a group at a time: each survey keeps the ref its question went
    out as (replies and receipts name it) and its question status becomes sent, where that is forward (a platform
    that reports delivery moves it on from there, SurveyService.question_status). The rows are read first and the
    rollups' change worked out from them here, as the writes below leave them."""
    if not asked:
        return
    refs = {survey_id: ref for survey_id, ref in asked if ref}
    ids = sorted({i for i, _ in asked})
    rows = (await conn.execute(_read_asked(conn.dialect.name == "postgresql"), {"b_ids": ids})).mappings().all()
    parts: list[tuple[int, r.Delta]] = []
    for row in rows:
        new = dict(row) | ({"question_ref": refs[row["id"]]} if row["id"] in refs else {})
        if may_follow(row["question_status"], QuestionStatus.SENT):
            new["question_status"] = str(QuestionStatus.SENT)
        parts += [(-1, r.contribution(row)), (1, r.contribution(new))]
    await rollups.add_change(conn, r.combine(*parts))
    if refs:
        await conn.execute(_set_ref(), [{"b_id": i, "b_ref": ref} for i, ref in refs.items()])
    await conn.execute(_advance(QuestionStatus.SENT, False, True), {"b_ids": ids, "b_at": at})


async def survey_by_ref(conn: AsyncConnection, profile: str, channel: str, ref: str) -> int | None:
    """The id of the survey that asked its question as `ref` (the newest, should a platform ever reuse an id)."""
    q = (
        select(S.c.id)
        .where(S.c.question_ref == ref, S.c.profile == profile, S.c.channel == channel)
        .order_by(S.c.id.desc())
        .limit(1)
    )
    return (await conn.execute(q)).scalar_one_or_none()


async def skip_outside_window(conn: AsyncConnection, survey_id: int | None, now: datetime) -> bool:
    """The platform refused the question because its window with the customer had closed and nothing could reopen
    it: a survey not answered yet ends as skipped (outside_window) instead of waiting to expire. The question never
    reached the customer, so the survey gives its case back (a later close of the case is surveyed) and the
    contact's throttle counts from the last survey that did reach them, as if this one had not been asked."""
    async with rollups.recounting(conn, [S.c.id == survey_id], ("report_skips",)):
        skipped = (
            await conn.execute(
                update(S)
                .where(S.c.id == survey_id, S.c.state.in_(UNANSWERED), S.c.score.is_(None))
                .values(
                    state=str(State.SKIPPED),
                    skip_reason=str(OUTSIDE_WINDOW),
                    next_check_at=None,
                    completed_at=now,
                    case_key=None,
                )
                .returning(S.c.profile, S.c.channel, S.c.user_id)
            )
        ).first()
    if skipped is None:
        return False
    person = (S.c.profile == skipped.profile, S.c.channel == skipped.channel, S.c.user_id == skipped.user_id)
    reached = (
        select(func.max(S.c.asked_at))
        .where(*person, S.c.id != survey_id, or_(S.c.skip_reason.is_(None), S.c.skip_reason != str(OUTSIDE_WINDOW)))
        .scalar_subquery()
    )
    await conn.execute(
        update(C)
        .where(C.c.profile == skipped.profile, C.c.channel == skipped.channel, C.c.user_id == skipped.user_id)
        .values(last_surveyed_at=reached)
    )
    return True
