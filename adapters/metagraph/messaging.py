"""What Messenger and Instagram Direct share on the Messenger Platform: the `entry[].messaging[]` events of their
webhooks, the 0–10 question as quick replies with payloads we can read back, and the Send API's error codes in
npsbot's terms.

Shapes and codes follow Meta's documentation (tests/payloads/meta/SOURCES.md names each page): the `messages`,
`message_deliveries`, `message_reads`, `messaging_postbacks` and `message_reactions` webhook events, Instagram's
`messaging_seen`, the Quick Replies reference and the Messenger Platform's error codes."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from adapters.metagraph.client import GraphError
from core.delivery import DeliveryError, OutsideWindow, PermanentFailure, RetryLater
from core.followup import MAX_SURVEY_ID

log = logging.getLogger(__name__)

# ---- webhook events -------------------------------------------------------------------------------------------

# A PSID, an IGSID, a Page or Instagram account id: digits as Meta issues them, letters tolerated; never a character a
# database column or a log line would choke on.
Id = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_.-]+$")]
# A message id (`mid.1457764197618:41d102a3e1ae206a38`, `m_…`, base64 on Instagram): visible ASCII, the width of
# question_ref.
Mid = Annotated[StrictStr, Field(min_length=1, max_length=191, pattern=r"^[!-~]+$")]
MAX_WATERMARK = 2**53  # milliseconds; anything larger is not a time


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Party(_Event):
    id: Id


class QuickReply(_Event):
    payload: Annotated[StrictStr, Field(max_length=1000)] | None = None


class Attachment(_Event):
    type: StrictStr | None = None


class Message(_Event):
    """A `messages` event: text, a quick reply's title and payload, attachments (images, stickers, audio, video,
    files, location, a like), or an echo of what the business itself sent (`is_echo`)."""

    mid: Mid
    text: StrictStr | None = None
    quick_reply: QuickReply | None = None
    attachments: list[Attachment] | None = None
    is_echo: StrictBool = False
    is_deleted: StrictBool = False  # Instagram: the customer unsent it
    is_unsupported: StrictBool = False  # Instagram: a kind of message the API does not carry


class Delivery(_Event):
    """Messenger's `message_deliveries`: the ids of delivered messages (not always given) and a watermark before
    which every message was delivered."""

    mids: list[Mid] = Field(default_factory=list, max_length=1000)
    watermark: Annotated[StrictInt, Field(ge=0, le=MAX_WATERMARK)] | None = None


class Read(_Event):
    """Messenger's `message_reads` (a watermark) or Instagram's `messaging_seen` (the id of the message seen)."""

    watermark: Annotated[StrictInt, Field(ge=0, le=MAX_WATERMARK)] | None = None
    mid: Mid | None = None


class Postback(_Event):
    mid: Mid | None = None
    payload: Annotated[StrictStr, Field(max_length=1000)] | None = None


class Reaction(_Event):
    mid: Mid
    action: StrictStr | None = None  # react | unreact


class Messaging(_Event):
    """One element of an entry's `messaging` list: who, when, and exactly one kind of event."""

    sender: Party
    recipient: Party
    timestamp: Annotated[StrictInt, Field(ge=0, le=MAX_WATERMARK)] | None = None
    message: Message | None = None
    delivery: Delivery | None = None
    read: Read | None = None
    postback: Postback | None = None
    reaction: Reaction | None = None

    def at(self, now: datetime) -> datetime:
        """When it happened, never later than `now` (a customer's window is not renewed into the future)."""
        return min(from_millis(self.timestamp, now), now)

    @property
    def from_customer(self) -> bool:
        """A message or button tap by the customer opens (or renews) Meta's 24-hour window; our own echoes, delivery
        and read receipts and reactions do not."""
        if self.message is not None:
            return not self.message.is_echo
        return self.postback is not None


class Entry(_Event):
    """One `entry`: the Page (Messenger) or Instagram professional account it is for, and its events. The events are
    validated one by one (`events`), so one Meta has not documented does not cost the others."""

    id: Id
    messaging: list[Any] = Field(default_factory=list, max_length=1000)


SECONDS_BEFORE = 10**11  # as milliseconds, March 1973: a smaller timestamp is in seconds (one of Meta's examples)


def from_millis(value: int | None, fallback: datetime) -> datetime:
    """Meta's timestamps and watermarks are milliseconds since the epoch."""
    if value is None or not 0 < value <= MAX_WATERMARK:
        return fallback
    return datetime.fromtimestamp(value / (1 if value < SECONDS_BEFORE else 1000), tz=UTC)


# ---- the 0–10 question as quick replies ----------------------------------------------------------------------

MAX_QUICK_REPLIES = 13  # Meta's limit; the scale's 11 fit in one message
TITLE_LIMIT = 20  # characters Messenger and Instagram show on a quick reply before cutting it
PAYLOAD = re.compile(r"nps:([1-9][0-9]{0,18}):(10|[0-9])")


def score_payload(survey_id: int, score: int) -> str:
    """What a quick reply carries back: the survey and the score, nothing else (`nps:123:9`)."""
    return f"nps:{survey_id}:{score}"


def read_score_payload(payload: str | None) -> tuple[int, int] | None:
    """(survey id, score) from a quick reply's payload, or None when it is not one of ours or out of bounds. The
    payload comes back from the client: the survey it names is checked against the profile and the customer by
    core before anything changes."""
    match = PAYLOAD.fullmatch(payload or "")
    if match is None:
        return None
    survey_id, score = int(match[1]), int(match[2])
    return (survey_id, score) if survey_id <= MAX_SURVEY_ID else None


def _units(text: str) -> int:
    """Length in UTF-16 code units, as Meta's clients count it (an emoji outside the BMP counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def fit_title(label: str, limit: int = TITLE_LIMIT) -> str:
    """A quick reply's title within `limit`; a longer label (an operator's wording, a long language) is cut with an
    ellipsis. Its number stays first, so core's parser still reads it if a client sends the title back as text."""
    if _units(label) <= limit:
        return label
    out = ""
    for ch in label:
        if _units(out + ch) > limit - 1:
            break
        out += ch
    return out.rstrip() + "…"


def quick_replies(survey_id: int, labels: tuple[str, ...]) -> list[dict[str, str]]:
    """The scale's labels (core.channel.score_labels: "0 · Not likely", "1" … "10 · Very likely") as text quick
    replies, each carrying its survey and score."""
    if len(labels) > MAX_QUICK_REPLIES:
        raise ValueError(f"at most {MAX_QUICK_REPLIES} quick replies, not {len(labels)}")
    return [
        {"content_type": "text", "title": fit_title(label), "payload": score_payload(survey_id, n)}
        for n, label in enumerate(labels)
    ]


def clip(text: str, *, chars: int | None = None, utf8_bytes: int | None = None) -> str:
    """A message's text within the platform's limit (Messenger: 2000 characters; Instagram: 1000 bytes of UTF-8),
    cut at a character boundary rather than refused by Meta."""
    if chars is not None and len(text) > chars:
        text = text[: chars - 1] + "…"
    if utf8_bytes is not None and len(text.encode()) > utf8_bytes:
        raw = text.encode()[: utf8_bytes - 3]
        text = raw.decode(errors="ignore") + "…"
    return text


# ---- Send API errors ------------------------------------------------------------------------------------------

# Graph's throttling codes (application, user, Page, custom) and Messenger's "too many send requests" (4/2018022).
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613})
# "An unexpected error has occurred. Please retry your request later", unknown errors, "Temporary send message
# failure. Please try again later".
TRANSIENT_CODES = frozenset({1, 2, 1200})
# "This message is sent outside of allowed window" (Messenger 10/2018278, the older 10/2018065; Instagram
# 10/2534022).
WINDOW_SUBCODES = frozenset({2018278, 2018065, 2534022})
# "This person isn't available right now" (551/1545041) and "No matching user found" (100/2018001): the customer
# blocked the Page, turned off messages from businesses, or is gone.
UNREACHABLE_CODES = frozenset({551})
UNREACHABLE_SUBCODES = frozenset({1545041, 2018001})
TOKEN_CODES = frozenset({190, 102})  # the access token is invalid, expired or revoked
# Meta's throttling windows are counted per hour or per day and its answer names no wait: a minute's pause of the
# Page's sends (the worker pauses the rate-limit bucket) instead of hammering it with fast retries.
RATE_LIMIT_PAUSE = 60.0

Failure = Literal["rate", "window", "unreachable", "token", "transient", "final"]


def classify(error: GraphError) -> Failure:
    """What a Send API error means for npsbot."""
    code, subcode = error.code, error.subcode
    if code in TOKEN_CODES:
        return "token"
    if subcode in WINDOW_SUBCODES:
        return "window"
    if code in UNREACHABLE_CODES or subcode in UNREACHABLE_SUBCODES:
        return "unreachable"
    if code in RATE_LIMIT_CODES or error.status == 429:
        return "rate"
    if code in TRANSIENT_CODES or error.status >= 500:
        return "transient"
    return "final"


def delivery_error(error: GraphError, kind: Failure | None = None) -> DeliveryError:
    """The worker's error for a Send API error; the text is Graph's codes only (GraphError's own str())."""
    kind = kind or classify(error)
    text = str(error)
    if kind == "rate":
        return RetryLater(f"rate limited: {text}", error.retry_after or RATE_LIMIT_PAUSE)
    if kind == "window":
        return OutsideWindow(f"outside the 24-hour window: {text}")
    if kind == "unreachable":
        return PermanentFailure(f"recipient unreachable: {text}", unreachable=True)
    if kind == "token":
        return PermanentFailure(f"access token refused: {text}")
    if kind == "transient":
        return DeliveryError(text)
    return PermanentFailure(text)


@dataclass(frozen=True, slots=True)
class Window:
    """How a send reaches the customer: an ordinary reply inside the 24-hour window, or a message tag outside it."""

    messaging_type: Literal["RESPONSE", "MESSAGE_TAG"]
    tag: str | None = None

    def fields(self) -> dict[str, str]:
        return {"messaging_type": self.messaging_type, **({"tag": self.tag} if self.tag else {})}


RESPONSE = Window("RESPONSE")
