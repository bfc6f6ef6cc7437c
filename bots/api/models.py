"""Request bodies and query parameters, validated before anything is touched."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_ID = 2**62  # fits a signed 64-bit column on every backend
MAX_IDEMPOTENCY_KEY = 200


def _no_nul(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; refuse it here rather than fail in the driver."""
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _as_utc(value: datetime | None) -> datetime | None:
    """Naive means UTC; an aware time is converted. One that falls off the calendar once in UTC (an offset on
    0001-01-01 or 9999-12-31) is pinned to the calendar's first or last instant, which filters the same way."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=UTC)


Text = Annotated[str | None, AfterValidator(_no_nul)]
Name = Annotated[str, AfterValidator(_no_nul)]
Ident = Field(min_length=1, max_length=191)
Instant = Annotated[datetime | None, AfterValidator(_as_utc)]


class CloseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: Name = Field(min_length=1, max_length=64)
    channel: Name = Field(min_length=1, max_length=32)
    conversation_id: Name = Ident
    user_id: Name = Field(min_length=1, max_length=128)  # the width of contacts.user_id
    thread: Text = Field(None, max_length=191)
    agent: Text = Field(None, max_length=191)
    team: Text = Field(None, max_length=191)
    locale: Text = Field(None, max_length=16)
    customer_name: Text = Field(None, max_length=256)
    case_id: Text = Field(None, max_length=191)
    metadata: dict[str, Any] = Field(default_factory=dict)  # NUL is dropped by the service, as for every event


class ReopenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: Name = Field(min_length=1, max_length=64)
    channel: Name = Field(min_length=1, max_length=32)
    conversation_id: Name = Ident
    thread: Text = Field(None, max_length=191)


class FollowUpBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: Name = Field(min_length=1, max_length=191)


class SurveyOut(BaseModel):
    """One survey as the API returns it (and as outbound events carry it)."""

    id: int | None
    profile: str
    channel: str
    conversation_id: str
    case_id: str | None
    user_id: str
    customer_name: str | None
    agent: str | None
    team: str | None
    locale: str
    state: Literal["pending", "asked", "scored", "completed", "expired", "skipped", "opted_out"]
    skip_reason: str | None
    score: int | None = Field(ge=0, le=10)
    category: Literal["promoter", "passive", "detractor"] | None
    comment: str | None
    created_at: datetime
    asked_at: datetime | None
    scored_at: datetime | None
    completed_at: datetime | None
    metadata: dict[str, Any] = Field(description="the fields the helpdesk sent when the conversation closed")


class ResponseOut(SurveyOut):
    unparsed: list[str] = Field(description="replies that were not a score, kept as text")


class ResponseDetailOut(ResponseOut):
    claimed_by: str | None
    resolved_by: str | None
    resolved_at: datetime | None


class ResponseParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: Text = Field(None, max_length=64)
    channel: Text = Field(None, max_length=32)
    agent: Text = Field(None, max_length=191)
    team: Text = Field(None, max_length=191)
    locale: Text = Field(None, max_length=16)
    state: Literal["pending", "asked", "scored", "completed", "expired", "skipped", "opted_out"] | None = None
    category: Literal["promoter", "passive", "detractor"] | None = None
    since: Instant = None
    until: Instant = None
    limit: int = Field(50, ge=1, le=500)
    cursor: int | None = Field(None, ge=1, le=MAX_ID)
    by: Literal["profile", "channel", "agent", "team", "locale"] | None = None
    bucket: Literal["day", "week", "month"] | None = None
    status: Literal["open", "claimed", "resolved"] | None = None
