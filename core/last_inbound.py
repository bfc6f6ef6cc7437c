"""The customer's last message as a conversation close may report it. On Meta's channels a question is an ordinary
message only within 24 hours of the customer's last message, and the channel learns of that message only when it
arrives through its own webhook; a help desk, a bridge or the operator API that closes the conversation may have
seen later messages (answered by an agent elsewhere). The close then carries `last_customer_message_at` in its
metadata (ISO 8601, or Unix seconds) and the contact's last inbound time moves forward to it, never back."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

HINT = "last_customer_message_at"
FIRST_YEAR = 2000  # older is a placeholder or a typo, not a message a window could still be open for


def utc(when: datetime) -> datetime:
    """An aware UTC time; one written without an offset is taken as UTC."""
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def last_message_hint(metadata: Mapping[str, Any], now: datetime) -> datetime | None:
    """The hint as an aware UTC time no later than `now` (a clock ahead of ours must not keep a window open), or
    None when there is none or it is not a time."""
    value = metadata.get(HINT)
    when: datetime | None = None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            when = datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str) and len(value) <= 64:
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        when = utc(when)
    if when is None or when.year < FIRST_YEAR:
        return None
    return min(when, now)
