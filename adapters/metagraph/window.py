"""Meta's customer-service window: a business may message a customer freely for 24 hours after the customer's last
message; after that only an approved template (WhatsApp) or a message tag (Messenger, Instagram) may reopen it."""

from __future__ import annotations

from datetime import datetime, timedelta

WINDOW = timedelta(hours=24)


def within_window(last_inbound: datetime | None, now: datetime, window: timedelta = WINDOW) -> bool:
    """Whether a free-form message sent `now` still falls in the window the customer's last message opened; an
    unknown last message (None) is outside: nothing says the customer wrote at all."""
    if last_inbound is None:
        return False
    return now - last_inbound < window
