"""Cloud API error codes → the worker's neutral delivery errors (codes from Meta's "WhatsApp error codes" page and
"Throughput"; see tests/payloads/meta/SOURCES.md). Only the code, subcode and HTTP status are used: Meta's message
text may quote what was sent, and it never reaches a log or `last_error`."""

from __future__ import annotations

from core.delivery import DeliveryError, OutsideWindow, PermanentFailure, RetryLater

# Wait and retry; seconds to wait when Meta names no time.
RETRY_AFTER: dict[int, float] = {
    130429: 2.0,  # the number's throughput (80 messages/s by default, inbound included) was reached
    131056: 6.0,  # pair rate limit: too many messages to this one customer; about one per 6 s is allowed
    131048: 60.0,  # spam rate limit: the number's quality restricts how much it may send for a while
    4: 60.0,  # the app's Graph API call rate
    80007: 60.0,  # the WhatsApp Business Account's rate limit
}
TRANSIENT = frozenset({1, 2, 131000, 131016, 133004})  # unknown error, service (temporarily) unavailable
OUTSIDE_WINDOW = frozenset({131047, 470})  # more than 24 h since the customer wrote (470: the legacy code)
UNREACHABLE = frozenset({131026})  # not a WhatsApp number, old client, terms not accepted, or blocked us
# Final, and something an operator must fix: the token, the app's permissions, the account, the number.
ACCESS = frozenset({0, 3, 10, 190, *range(200, 300), 131031, 131042, 131045, 133010})
# Final: what we sent does not fit (a parameter, a template's name, language, variables or buttons).
REQUEST = frozenset({100, 131008, 131009, 131021, 131051, 131052, 131053, *range(132000, 133000)})


def needs_operator(code: int | None) -> bool:
    """A refusal only an operator can fix: the token, the account or number, or what is sent (a template)."""
    return code in ACCESS or code in REQUEST


PAIR_LIMIT = 131056  # one customer's limit: only their bucket waits, the number's other sends go on


def for_code(
    status: int, code: int | None, subcode: int | None = None, *, customer_bucket: str | None = None
) -> DeliveryError:
    """The delivery error for one Graph error answer; its text is the code, subcode, status and a fixed reason."""
    label = f"WhatsApp Graph error {code}" + (f"/{subcode}" if subcode else "") + f" (HTTP {status})"
    if code in RETRY_AFTER:
        return RetryLater(label, RETRY_AFTER[code], bucket=customer_bucket if code == PAIR_LIMIT else None)
    if code in OUTSIDE_WINDOW:
        return OutsideWindow(f"{label}: outside the 24-hour customer-service window")
    if code in UNREACHABLE:
        return PermanentFailure(f"{label}: message undeliverable", unreachable=True)
    if needs_operator(code):
        kind = "access token, permission or account" if code in ACCESS else "request or template"
        return PermanentFailure(f"{label}: {kind} problem")
    if code in TRANSIENT or status >= 500:
        return DeliveryError(label)
    if status == 429:
        return RetryLater(label)
    return PermanentFailure(label)
