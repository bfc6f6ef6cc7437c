"""Request bodies and query parameters, validated before anything is touched."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from core.contacts import ZONE_NAMES, InvalidContact, time_zone
from core.reports.analytics import Bucket
from core.reports.filters import ReportFilters, blank_is_none, storable
from core.reports.filters import Text as FilterText

MAX_ID = 2**62  # fits a signed 64-bit column on every backend
MAX_IDEMPOTENCY_KEY = 200

Text = Annotated[str | None, AfterValidator(storable)]


def _zone(value: str | None) -> str | None:
    try:
        return time_zone(value)
    except InvalidContact as exc:  # pydantic reports a ValueError as the field's one-line problem
        raise ValueError(str(exc).split(": ", 1)[1]) from None


Zone = Annotated[str | None, AfterValidator(_zone)]
Name = Annotated[str, AfterValidator(storable)]
Ident = Field(min_length=1, max_length=191)
Category = Literal["promoter", "passive", "detractor"]


class CloseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    profile: Name = Field(min_length=1, max_length=64)
    channel: Name = Field(min_length=1, max_length=32)
    conversation_id: Name = Ident
    user_id: Name = Field(min_length=1, max_length=128)  # the width of contacts.user_id
    thread: Text = Field(None, max_length=191)
    # The Slack workspace (team id, or org id for an org-wide install) of a profile whose app many installed.
    workspace: Text = Field(None, max_length=64)
    agent: Text = Field(None, max_length=191)
    team: Text = Field(None, max_length=191)
    locale: Text = Field(None, max_length=16)
    customer_name: Text = Field(None, max_length=256)
    case_id: Text = Field(None, max_length=191)
    metadata: dict[str, Any] = Field(default_factory=dict)  # NUL is dropped by the service, as for every event
    last_customer_message_at: datetime | None = Field(
        None,
        description="when the customer last wrote (ISO 8601; no offset means UTC), where the closing system saw "
        "messages the channel did not: Meta's 24-hour window counts from it",
    )
    timezone: Zone = Field(
        None,
        max_length=64,
        description="the customer's IANA time zone as the closing system knows it; it becomes the contact's only "
        "while the contact has none (a zone set through /api/v1/contacts wins)",
        json_schema_extra={"enum": [*ZONE_NAMES, None]},
    )


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
    category: Category | None
    comment: str | None
    created_at: datetime
    asked_at: datetime | None
    scored_at: datetime | None
    completed_at: datetime | None
    metadata: dict[str, Any] = Field(description="the fields the helpdesk sent when the conversation closed")
    themes: list[str] = Field(default_factory=list, description="the comment themes its comment mentions")
    priority: Literal["low", "normal", "high", "urgent"] = Field("normal", description="set by the routing rules")
    tags: list[str] = Field(default_factory=list, description="added by the routing rules")


class ResponseOut(SurveyOut):
    unparsed: list[str] = Field(description="replies that were not a score, kept as text")
    kind: Literal["transactional", "relational"] = Field(description="a closed conversation's, or a campaign's")
    campaign: str | None = Field(description="the relational campaign that asked")
    variant: str | None = Field(description="the experiment's variant the customer got")


class ResponseDetailOut(ResponseOut):
    claimed_by: str | None
    resolved_by: str | None
    resolved_at: datetime | None


class ResponseParams(ReportFilters):
    """The API's query: the shared report filters (core.reports.filters) plus paging and grouping."""

    state: Literal["pending", "asked", "scored", "completed", "expired", "skipped", "opted_out"] | None = None
    category: Category | None = None
    limit: int = Field(50, ge=1, le=500)
    cursor: int | None = Field(None, ge=1, le=MAX_ID)
    by: (
        Literal["profile", "channel", "agent", "team", "locale", "workspace", "kind", "campaign", "variant", "theme"]
        | None
    ) = None
    compare: Literal["kind"] | None = None  # /nps: transactional against relational
    bucket: Bucket | None = None
    status: Literal["open", "claimed", "resolved"] | None = None


class DashboardParams(ReportFilters):
    """The dashboard's query: the shared report filters plus the trend bucket and the comment filters. The page
    sends every form field, empty ones meaning "all"; parameters it does not know are ignored."""

    model_config = ConfigDict(extra="ignore")
    bucket: Annotated[Bucket | None, BeforeValidator(blank_is_none)] = None
    category: Annotated[Category | None, BeforeValidator(blank_is_none)] = None
    search: FilterText = Field(None, max_length=200)
    theme: FilterText = Field(None, max_length=64)  # the comments that mention this theme
