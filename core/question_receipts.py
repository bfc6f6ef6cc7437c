"""A platform's receipt that covers everything sent before a moment (Messenger's read watermark, a delivery receipt
without message ids) instead of naming the message: the customer's questions sent by then move forward."""

from __future__ import annotations

from datetime import datetime

from core.question_status import QuestionStatus
from core.store import Store
from core.store import question_watermark as qw


async def advance_until(
    store: Store, profile: str, channel: str, user_id: str, status: str, until: datetime, at: datetime
) -> int:
    """Record `status` (delivered or read) at `at` for each of this customer's questions sent no later than `until`
    whose status may still move that way; the number of questions that moved."""
    new = QuestionStatus(status)  # ValueError for anything else
    return await store.run_in_transaction(
        lambda conn: qw.advance_until(conn, profile, channel, user_id, new, until, at)
    )
