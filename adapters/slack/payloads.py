"""What each listener reads from a Slack payload, validated in one place. A request is read with its listener's
model as it arrives, before anything runs or is journaled, so a signed payload of the wrong shape gets 400 instead
of a journal row that fails on every replay; a replay reads the same model. Button values and modal
metadata are client input like the rest: bounded here, never trusted for authority (the listener checks that)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AliasPath,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from core.followup import MAX_SURVEY_ID

__all__ = [
    "CloseCommand",
    "CloseShortcut",
    "CommentButton",
    "CommentSubmission",
    "CustomerMessage",
    "FollowUpTap",
    "Reaction",
    "ScoreTap",
    "TokensRevoked",
    "Uninstalled",
    "ValidationError",
    "problems",
]

CUSTOMER_SUBTYPES = {None, "thread_broadcast", "file_share"}  # a person writing; edits, joins, bots are not
SURVEY_ID = re.compile(r"^[0-9]{1,19}$")
SCORE_VALUE = re.compile(r"^([0-9]{1,19}):([0-9]{1,2})$")
# The modal's metadata is the survey id; modals opened by earlier releases also carry `|channel|thread`.
METADATA = re.compile(r"^([0-9]{1,19})(?:\|[^|]{0,64}\|[^|]{0,32})?$")


def _bounded(text: str) -> int:
    survey_id = int(text)
    if not 0 < survey_id <= MAX_SURVEY_ID:
        raise ValueError("survey id out of range")
    return survey_id


def _match(pattern: re.Pattern[str], value: object, what: str) -> re.Match[str]:
    found = pattern.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise ValueError(f"not {what}")
    return found


def _survey_id(value: object) -> int:
    return _bounded(_match(SURVEY_ID, value, "a survey id").group(0))


def _score_value(value: object) -> tuple[int, int]:
    found = _match(SCORE_VALUE, value, "survey:score")
    score = int(found.group(2))
    if score > 10:
        raise ValueError("score out of range")
    return _bounded(found.group(1)), score


def _metadata_id(value: object) -> int:
    return _bounded(_match(METADATA, value, "a survey id").group(1))


Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]  # a Slack user, channel or view id
Ts = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,12}\.[0-9]{1,9}$")]  # a message timestamp: 1700000000.000100
Key = Annotated[str, StringConstraints(min_length=1, max_length=255)]  # event_id, trigger_id, action_ts: dedup keys
SurveyId = Annotated[int, BeforeValidator(_survey_id)]  # a button value naming a survey: 1 … 2**63-1
ScoreValue = Annotated[tuple[int, int], BeforeValidator(_score_value)]


def at(*path: str | int, default: Any = ...) -> Any:
    return Field(default, validation_alias=AliasPath(*path))


def problems(error: ValidationError) -> str:
    """Where the payload went wrong, without any of its values (they may be a person's words)."""
    return ", ".join(sorted({".".join(str(p) for p in e["loc"]) or "payload" for e in error.errors()}))


class Payload(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


def _event(body: dict[str, Any]) -> dict[str, Any]:
    event = body.get("event")
    return event if isinstance(event, dict) else {}


class CustomerMessage(Payload):
    """A person's message in a channel, group or DM the bot is in."""

    event_id: Key = at("event_id")
    channel: Id = at("event", "channel")
    user: Id = at("event", "user")
    text: str | None = at("event", "text", default=None)
    thread_ts: Ts | None = at("event", "thread_ts", default=None)

    @classmethod
    def read(cls, body: dict[str, Any]) -> Self | None:
        """None for messages that are not a person writing (bots, edits, deletions, joins): nothing to do."""
        event = _event(body)
        subtype = event.get("subtype")
        if event.get("bot_id") or not isinstance(subtype, str | None) or subtype not in CUSTOMER_SUBTYPES:
            return None
        if event.get("user") is None:
            return None
        return cls.model_validate(body)


class Reaction(Payload):
    """The close reaction on a customer's message."""

    event_id: Key = at("event_id")
    agent: Id = at("event", "user")
    customer: Id = at("event", "item_user")
    channel: Id = at("event", "item", "channel")
    ts: Ts = at("event", "item", "ts")

    @classmethod
    def read(cls, body: dict[str, Any], close_reaction: str) -> Self | None:
        """None for any other reaction, or one on something that is not a person's message."""
        event = _event(body)
        item = event.get("item")
        if event.get("reaction") != close_reaction or not isinstance(item, dict) or item.get("type") != "message":
            return None
        if event.get("item_user") is None:
            return None
        return cls.model_validate(body)


class CloseCommand(Payload):
    """`/nps-close @customer` (a form, so every value is a string)."""

    agent: Id = at("user_id")
    channel: Id = at("channel_id")
    text: str = at("text", default="")
    trigger_id: Key = at("trigger_id")
    response_url: str = at("response_url")

    @classmethod
    def read(cls, body: dict[str, Any]) -> Self:
        return cls.model_validate(body)


class CloseShortcut(Payload):
    """The "Close & send survey" message shortcut."""

    agent: Id = at("user", "id")
    channel: Id = at("channel", "id")
    trigger_id: Key = at("trigger_id")
    response_url: str = at("response_url")
    customer: Id | None = at("message", "user", default=None)
    bot_id: str | None = at("message", "bot_id", default=None)
    ts: Ts = at("message", "ts")
    thread_ts: Ts | None = at("message", "thread_ts", default=None)

    @classmethod
    def read(cls, body: dict[str, Any]) -> Self:
        return cls.model_validate(body)


class _Tap(Payload):
    """A button on one of the bot's messages: who pressed it, and where."""

    user: Id = at("user", "id")
    channel: Id = at("channel", "id")
    thread_ts: Ts | None = at("message", "thread_ts", default=None)

    @classmethod
    def read(cls, body: dict[str, Any]) -> Self:
        return cls.model_validate(body)


class ScoreTap(_Tap):
    """One of the question's 0–10 buttons: value `survey:score`, the score the button's own."""

    action_id: str = at("actions", 0, "action_id")
    value: ScoreValue = at("actions", 0, "value")
    action_ts: Key = at("actions", 0, "action_ts")

    @model_validator(mode="after")
    def _same_button(self) -> Self:
        if self.action_id != f"nps_score_{self.score}":
            raise ValueError("the score is not the button's")
        return self

    @property
    def survey_id(self) -> int:
        return self.value[0]

    @property
    def score(self) -> int:
        return self.value[1]


class CommentButton(_Tap):
    """ "Add a comment" under the comment question: opens the modal with the trigger."""

    survey_id: SurveyId = at("actions", 0, "value")
    trigger_id: Key = at("trigger_id")


class FollowUpTap(_Tap):
    """Claim / Resolved on a detractor alert; the alert message is edited in place."""

    action_id: Literal["nps_claim", "nps_resolve"] = at("actions", 0, "action_id")
    survey_id: SurveyId = at("actions", 0, "value")
    name: str | None = at("user", "name", default=None)
    message_ts: Ts = at("message", "ts")
    blocks: list[dict[str, Any]] = at("message", "blocks", default=[])


class CommentSubmission(Payload):
    """The comment modal submitted: the survey its metadata names, who submitted it, the text."""

    user: Id = at("user", "id")
    view_id: Id = at("view", "id")
    view_hash: str | None = at("view", "hash", default=None)
    survey_id: Annotated[int, BeforeValidator(_metadata_id)] = at("view", "private_metadata")
    text: Annotated[str, StringConstraints(max_length=3000)] | None = at(
        "view", "state", "values", "comment", "text", "value"
    )

    @classmethod
    def read(cls, body: dict[str, Any]) -> Self:
        return cls.model_validate(body)


class Uninstalled(Payload):
    """app_uninstalled: the workspace (or org) in the envelope removed the app."""

    event_id: Key = at("event_id")

    @classmethod
    def read(cls, body: dict[str, Any]) -> Self:
        return cls.model_validate(body)


class TokensRevoked(Payload):
    """tokens_revoked: the user ids whose user tokens (`oauth`) and bot tokens (`bot`) were revoked."""

    event_id: Key = at("event_id")
    oauth: list[Id] = at("event", "tokens", "oauth", default=[])
    bot: list[Id] = at("event", "tokens", "bot", default=[])

    @classmethod
    def read(cls, body: dict[str, Any]) -> Self:
        return cls.model_validate(body)
