"""Neutral types shared by every channel: adapters translate to and from these, core never sees a platform."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class Address:
    """Where a customer is reached: one conversation on one channel of one profile."""

    channel: str
    profile: str
    conversation_id: str
    user_id: str
    thread: str | None = None
    # The platform tenant the conversation lives in, where a channel serves several (a Slack workspace's team id,
    # or an Enterprise Grid org's id for an org-wide install); sends pick that tenant's credentials by it.
    workspace: str | None = None


# ---- inbound events -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConversationClosed:
    """A support conversation ended; the survey is created from what was known at that moment."""

    address: Address
    agent: str | None = None
    team: str | None = None
    locale: str | None = None
    customer_name: str | None = None
    case_id: str | None = None  # the support case when one chat hosts many (a Telegram DM); else the conversation
    metadata: dict[str, Any] = field(default_factory=dict)
    timezone: str | None = None  # the customer's IANA time zone as the platform or help desk knows it (a hint)


@dataclass(frozen=True, slots=True)
class ConversationReopened:
    """The conversation came back to life before the customer answered: a pending survey is withdrawn."""

    address: Address


@dataclass(frozen=True, slots=True)
class ScoreGiven:
    """A button tap (or a bridge's chosen option): the score is unambiguous."""

    address: Address
    score: int
    survey_id: int | None = None
    actor_id: str | None = None


@dataclass(frozen=True, slots=True)
class TextReceived:
    """Free text from the customer; core decides whether it is a score, a comment or an opt-out."""

    address: Address
    text: str
    locale: str | None = None
    # The platform's id for our message this text replies to, as its sender returned it (Slack: `channel:ts` of
    # the message a thread hangs under). A thread reply then also reaches a survey asked outside any thread.
    reply_to: str | None = None


@dataclass(frozen=True, slots=True)
class OptOut:
    """The customer left or blocked us on the platform (e.g. Telegram kicked): never survey them again."""

    address: Address


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: drives send delay, expiry and the comment window from the database."""


InboundEvent = ConversationClosed | ConversationReopened | ScoreGiven | TextReceived | OptOut


# ---- outbound actions -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AskScore:
    """Ask the 0–10 question; channels render buttons where they can."""

    text: str
    low_label: str
    high_label: str


@dataclass(frozen=True, slots=True)
class MarkAnswered:
    """Replace the question's buttons with the chosen score so a second tap cannot change it."""

    score: int
    text: str


@dataclass(frozen=True, slots=True)
class AskComment:
    """The comment question after the score, worded per NPS category."""

    text: str
    category: str
    add_comment_label: str = ""


@dataclass(frozen=True, slots=True)
class Say:
    """A plain message: re-ask, thanks, opt-out confirmation, review invitation."""

    text: str
    purpose: str


@dataclass(frozen=True, slots=True)
class AlertDetractor:
    """Tell the support team a detractor finished (or let the comment window lapse)."""

    score: int
    comment: str | None


@dataclass(frozen=True, slots=True)
class Emit:
    """An outbound event for subscribers (survey.responded, survey.completed, detractor.created)."""

    event_type: str


Action = AskScore | MarkAnswered | AskComment | Say | AlertDetractor | Emit  # what a survey step returns


@dataclass(frozen=True, slots=True)
class DetractorAlert:
    """One support-team target's alert, rendered by core.outbound from the survey's `AlertDetractor`: everything
    a channel shows (and its Claim / Resolve buttons act on) travels with it."""

    survey_id: int | None
    score: int
    comment: str | None
    customer: str
    agent: str | None
    team: str | None
    profile: str
    channel: str  # the customer's channel, shown in the alert (the alert itself goes out on the target's)
    conversation_id: str
    link: str | None
    text: str
    claim_label: str
    resolve_label: str
    # Set by the profile's routing rules (core/routing); an outbox row queued before them reads these defaults.
    priority: str = "normal"
    tags: tuple[str, ...] = ()
    # "claim" / "resolve": a second ping, because the follow-up was not claimed / resolved within its SLA.
    escalation: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", tuple(self.tags))  # a list when read back from the outbox's JSON


@dataclass(frozen=True, slots=True)
class EventNotice:
    """One subscriber's copy of an `Emit`: the event type, when it happened (ISO 8601) and the survey's public
    snapshot; the subscriber's URL is the delivery's conversation id."""

    type: str
    data: dict[str, Any]
    timestamp: str


@dataclass(frozen=True, slots=True)
class Digest:
    """A profile's scheduled digest for one target (core/digest.py): the text in the profile's language, a subject
    for mail, the figures as data (for a webhook) and the trend chart, a PNG as base64 (None: no chart)."""

    text: str
    subject: str
    image_png: str | None = None
    image_name: str = "nps-trend.png"
    figures: dict[str, Any] = field(default_factory=dict)


# what a channel is sent
OutboundAction = AskScore | MarkAnswered | AskComment | Say | DetractorAlert | EventNotice | Digest


# ---- hygiene --------------------------------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_clean(v) for v in value)
    if is_dataclass(value) and not isinstance(value, type):
        return replace(value, **{f.name: _clean(getattr(value, f.name)) for f in fields(value)})
    return value


def without_nul(event: InboundEvent) -> InboundEvent:
    """Drop NUL characters from everything a platform sent: PostgreSQL text cannot store them, and they carry no
    meaning in a chat message, so a stray one must not turn a delivery into an endless retry."""
    return _clean(event)
