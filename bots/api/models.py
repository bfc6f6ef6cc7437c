"""Request bodies and query parameters, validated before anything is touched."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Ident = Field(min_length=1, max_length=191)


class CloseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: str = Field(min_length=1, max_length=64)
    channel: str = Field(min_length=1, max_length=32)
    conversation_id: str = Ident
    user_id: str = Ident
    thread: str | None = Field(None, max_length=191)
    agent: str | None = Field(None, max_length=191)
    team: str | None = Field(None, max_length=191)
    locale: str | None = Field(None, max_length=16)
    customer_name: str | None = Field(None, max_length=256)
    case_id: str | None = Field(None, max_length=191)
    metadata: dict[str, Any] = Field(default_factory=dict)


class ReopenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: str = Field(min_length=1, max_length=64)
    channel: str = Field(min_length=1, max_length=32)
    conversation_id: str = Ident
    thread: str | None = Field(None, max_length=191)


class FollowUpBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str = Field(min_length=1, max_length=191)


class ResponseParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: str | None = Field(None, max_length=64)
    channel: str | None = Field(None, max_length=32)
    agent: str | None = Field(None, max_length=191)
    team: str | None = Field(None, max_length=191)
    locale: str | None = Field(None, max_length=16)
    state: Literal["pending", "asked", "scored", "completed", "expired", "skipped", "opted_out"] | None = None
    category: Literal["promoter", "passive", "detractor"] | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(50, ge=1, le=500)
    cursor: int | None = Field(None, ge=1)
    by: Literal["profile", "channel", "agent", "team", "locale"] | None = None
    status: Literal["open", "claimed", "resolved"] | None = None
