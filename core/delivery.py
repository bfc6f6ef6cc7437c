"""How a channel reports a failed send, in neutral terms the worker can act on."""

from __future__ import annotations


class DeliveryError(Exception):
    """A send failed for a reason worth retrying (5xx, timeout, connection reset)."""


class RetryLater(DeliveryError):
    """The platform asked us to slow down; `retry_after` seconds is honoured exactly when given. `bucket` names the
    one rate-limit bucket the platform throttled when it says which (WhatsApp's pair limit is one customer's): only
    that bucket pauses; otherwise every bucket the send booked does."""

    def __init__(self, message: str, retry_after: float | None = None, *, bucket: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.bucket = bucket


class PermanentFailure(DeliveryError):
    """Retrying cannot help. `unreachable` marks the customer (blocked the bot, left the channel); `gone` marks
    an outbound subscription whose endpoint is gone (410)."""

    def __init__(self, message: str, *, unreachable: bool = False, gone: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable
        self.gone = gone


class OutsideWindow(PermanentFailure):
    """The platform's messaging window with this customer is closed (Meta's 24-hour customer-service window) and
    the channel has no allowed fallback (no approved template, no message tag). A question refused this way skips
    its survey as `outside_window` instead of leaving a dead letter nobody can act on."""
