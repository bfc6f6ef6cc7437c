"""Inbound webhook events: their JSON shapes and how each becomes a core event."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from adapters.webhook.config import NAME
from core.types import Address, ConversationClosed, ConversationReopened, InboundEvent, ScoreGiven, TextReceived

CHANNEL = NAME
MAX_ID = 2**63 - 1  # a signed 64-bit column on every backend
Id = Annotated[str, Field(min_length=1, max_length=191)]
ContactId = Annotated[str, Field(min_length=1, max_length=128)]  # the width of contacts.user_id


class Closed(BaseModel):
    model_config = ConfigDict(extra="ignore")
    conversation_id: Id
    contact_id: ContactId
    locale: str | None = Field(None, max_length=16)
    agent: str | None = Field(None, max_length=191)
    team: str | None = Field(None, max_length=191)
    customer_name: str | None = Field(None, max_length=256)
    case_id: str | None = Field(None, max_length=191)
    thread: str | None = Field(None, max_length=191)
    metadata: dict[str, Any] = Field(default_factory=dict)


class Received(BaseModel):
    """A customer's reply: free `text`, or the `option` they chose among the 0–10 buttons the bridge rendered."""

    model_config = ConfigDict(extra="ignore")
    conversation_id: Id
    contact_id: ContactId
    text: str | None = Field(None, max_length=10_000)
    option: int | None = Field(None, ge=0, le=10, strict=True)
    survey_id: int | None = Field(None, ge=1, le=MAX_ID)
    thread: str | None = Field(None, max_length=191)
    locale: str | None = Field(None, max_length=16)


class Reopened(BaseModel):
    model_config = ConfigDict(extra="ignore")
    conversation_id: Id
    thread: str | None = Field(None, max_length=191)


class ClosedEvent(BaseModel):
    type: Literal["conversation.closed"]
    data: Closed


class ReceivedEvent(BaseModel):
    type: Literal["message.received"]
    data: Received


class ReopenedEvent(BaseModel):
    type: Literal["conversation.reopened"]
    data: Reopened


WebhookEvent = Annotated[ClosedEvent | ReceivedEvent | ReopenedEvent, Field(discriminator="type")]
parser: TypeAdapter[ClosedEvent | ReceivedEvent | ReopenedEvent] = TypeAdapter(WebhookEvent)


def to_core(profile: str, event: ClosedEvent | ReceivedEvent | ReopenedEvent) -> InboundEvent:
    if isinstance(event, ReopenedEvent):
        return ConversationReopened(Address(CHANNEL, profile, event.data.conversation_id, "", event.data.thread))
    d = event.data
    address = Address(CHANNEL, profile, d.conversation_id, d.contact_id, d.thread)
    if isinstance(event, ClosedEvent):
        c = event.data
        return ConversationClosed(address, c.agent, c.team, c.locale, c.customer_name, c.case_id, dict(c.metadata))
    r = event.data
    if r.option is not None:
        return ScoreGiven(address, r.option, survey_id=r.survey_id, actor_id=r.contact_id)
    return TextReceived(address, r.text or "", locale=r.locale)
