"""What became of a survey's question on the platform, as far as the platform tells: sent (it left us), delivered
(it reached the customer's device), read, or failed. Platforms report these out of order and more than once (a read
receipt may overtake the delivery receipt; a webhook is redelivered), so a status only ever moves forward; a failure
counts until the question was read, and nothing follows it."""

from __future__ import annotations

import enum


class QuestionStatus(enum.StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


# The statuses each one may replace (None: nothing recorded yet).
FOLLOWS: dict[QuestionStatus, frozenset[QuestionStatus | None]] = {
    QuestionStatus.SENT: frozenset({None}),
    QuestionStatus.DELIVERED: frozenset({None, QuestionStatus.SENT}),
    QuestionStatus.READ: frozenset({None, QuestionStatus.SENT, QuestionStatus.DELIVERED}),
    QuestionStatus.FAILED: frozenset({None, QuestionStatus.SENT, QuestionStatus.DELIVERED}),
}
# The question reached the customer (the report's "delivered"): a response proves it too.
REACHED = frozenset({QuestionStatus.DELIVERED, QuestionStatus.READ})


def may_follow(current: str | None, new: QuestionStatus) -> bool:
    """Whether `new` replaces `current`; an unknown stored value is never overwritten."""
    if current is None:
        return None in FOLLOWS[new]
    try:
        return QuestionStatus(current) in FOLLOWS[new]
    except ValueError:
        return False
