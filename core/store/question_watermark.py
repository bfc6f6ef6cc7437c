"""Receipts that name no message but a moment: Messenger's read receipt (and a delivery receipt without message ids)
says every message sent to the customer before its watermark was read (delivered). Every question of that customer
recorded as sent no later than the watermark moves forward, in one statement that checks and writes together, as
core.store.question_status does for a receipt naming its message."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.question_status import FOLLOWS, QuestionStatus
from core.store import rollups
from core.store.tables import SurveyRow

S = SurveyRow.__table__
# An UPDATE may not name a bind parameter after a column (SQLAlchemy keeps those names for its SET values).


@cache
def _advance_until(status: QuestionStatus) -> Any:
    replaceable = sorted(str(s) for s in FOLLOWS[status] if s is not None)
    return (
        update(S)
        .where(
            S.c.channel == bindparam("b_channel"),
            S.c.user_id == bindparam("b_user_id"),
            S.c.profile == bindparam("b_profile"),
            S.c.question_ref.is_not(None),
            S.c.question_status.in_(replaceable),  # a question not sent yet has no status and is left alone
            S.c.question_status_at <= bindparam("b_until", type_=S.c.question_status_at.type),
        )
        .values(question_status=str(status), question_status_at=bindparam("b_at", type_=S.c.question_status_at.type))
    )


async def advance_until(
    conn: AsyncConnection,
    profile: str,
    channel: str,
    user_id: str,
    status: QuestionStatus,
    until: datetime,
    at: datetime,
) -> int:
    """Move every question this customer was sent by `until` to `status` where that is forward; how many moved."""
    params = {"b_profile": profile, "b_channel": channel, "b_user_id": user_id, "b_until": until, "b_at": at}
    # The customer's surveys (a few), found by what the UPDATE leaves alone, so the same ones are counted after it.
    person = [S.c.channel == channel, S.c.user_id == user_id, S.c.profile == profile, S.c.question_ref.is_not(None)]
    async with rollups.recounting(conn, person, ("report_days",)):
        return (await conn.execute(_advance_until(status), params)).rowcount
