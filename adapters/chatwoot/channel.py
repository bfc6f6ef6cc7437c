"""Chatwoot's own webhooks in, Chatwoot's API out: a conversation resolved in Chatwoot gets a survey in the same
conversation, shown as an option list (content_type input_select); the customer's pick or free text comes back as
an incoming message and is read by core's parser ("10 · Very likely" reads as 10)."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, ValidationError

from adapters.chatwoot.config import NAME, ChatwootConfig
from adapters.http import HttpClient, read_capped, retry_after, status_text
from adapters.spec import Channel, ChannelDeps
from core import jsonbody
from core.channel import Delivery, score_labels
from core.delivery import DeliveryError, PermanentFailure, RetryLater
from core.ratelimit import Limit, Rate
from core.types import (
    Address,
    AskScore,
    ConversationClosed,
    ConversationReopened,
    DetractorAlert,
    InboundEvent,
    Say,
    TextReceived,
)

log = logging.getLogger(__name__)
CHANNEL = NAME
MAX_INT = 2**63 - 1
# Chatwoot's ids are positive integers, and a conversation id ends up in an API URL: anything else is refused (400).
ChatwootId = Annotated[StrictInt, Field(ge=1, le=MAX_INT)]


def _label(limit: int) -> Any:
    """Display text (names, channel): kept when it is a string, cut to the column's width, else dropped."""
    return BeforeValidator(lambda v: v[:limit] if isinstance(v, str) else None)


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Person(_Payload):
    id: ChatwootId | None = None
    name: Annotated[str | None, _label(256)] = None
    type: Any = None
    additional_attributes: dict[str, Any] | None = None


class Team(_Payload):
    name: Annotated[str | None, _label(191)] = None


class Meta(_Payload):
    sender: Person | None = None
    assignee: Person | None = None
    team: Team | None = None


class StatusChanged(_Payload):
    """conversation_status_changed (and the older conversation_resolved / conversation_opened)."""

    event: str
    id: ChatwootId
    status: Annotated[str | None, _label(32)] = None
    timestamp: Annotated[str, BeforeValidator(lambda v: "" if v is None else str(v)[:40])] = ""
    meta: Meta | None = None
    additional_attributes: dict[str, Any] | None = None
    inbox_id: ChatwootId | None = None
    channel: Annotated[str | None, _label(64)] = None


class Conversation(_Payload):
    id: ChatwootId | None = None


class MessageCreated(_Payload):
    event: str
    id: ChatwootId | None = None
    content: str | None = None
    message_type: Any = None
    private: Any = None
    sender: Person | None = None
    conversation: Conversation | None = None


STATUS_EVENTS = ("conversation_status_changed", "conversation_resolved", "conversation_opened")


def _locale(*candidates: Any) -> str | None:
    return next((c for c in candidates if isinstance(c, str) and 0 < len(c) <= 16), None)


def parse(profile: str, payload: dict[str, Any]) -> tuple[InboundEvent, str] | None:
    """A Chatwoot webhook payload → (core event, dedup key), or None when it is not ours to act on.

    Raises pydantic's ValidationError when an event we act on does not have Chatwoot's shape."""
    event = payload.get("event")
    if event in STATUS_EVENTS:
        return _status(profile, StatusChanged.model_validate(payload))
    if event == "message_created":
        return _message(profile, MessageCreated.model_validate(payload))
    return None


def _status(profile: str, p: StatusChanged) -> tuple[InboundEvent, str] | None:
    meta = p.meta or Meta()
    key = f"{CHANNEL}:{profile}:{p.event}:{p.id}:{p.status}:{p.timestamp}"
    if p.event == "conversation_resolved" or p.status == "resolved":
        sender = meta.sender
        if sender is None or sender.id is None:
            return None
        attrs = p.additional_attributes or {}
        closed = ConversationClosed(
            Address(CHANNEL, profile, str(p.id), str(sender.id)),
            agent=meta.assignee.name[:191] if meta.assignee and meta.assignee.name else None,  # agent column width
            team=meta.team.name if meta.team else None,
            locale=_locale(attrs.get("browser_language"), (sender.additional_attributes or {}).get("language")),
            customer_name=sender.name,
            case_id=f"{p.id}:{p.timestamp}",
            metadata={"inbox_id": p.inbox_id, "chatwoot_channel": p.channel},
        )
        return closed, key
    if p.event == "conversation_opened" or p.status == "open":
        return ConversationReopened(Address(CHANNEL, profile, str(p.id), "")), key
    return None


def _message(profile: str, p: MessageCreated) -> tuple[InboundEvent, str] | None:
    """Only a customer's own public message is a reply; our messages echo back as outgoing and are ignored."""
    sender = p.sender
    if p.message_type != "incoming" or sender is None or sender.type != "contact" or p.private:
        return None
    if p.conversation is None or p.conversation.id is None or sender.id is None or p.id is None:
        return None
    address = Address(CHANNEL, profile, str(p.conversation.id), str(sender.id))
    return TextReceived(address, p.content or ""), f"{CHANNEL}:{profile}:message:{p.id}"


class ChatwootChannel(HttpClient, Channel):
    name = CHANNEL

    def __init__(self, deps: ChannelDeps, config: ChatwootConfig) -> None:
        self.service = deps.service
        self.profile = deps.profile
        self.settings = deps.settings
        self.config = config

    def mount(self, app: web.Application) -> None:
        app.router.add_post(f"/chatwoot/{self.profile}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        """Chatwoot signs nothing, so the URL carries a shared token (?token=…) that must match."""
        given = request.query.get("token") or request.headers.get("X-Npsbot-Token", "")
        if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self.config.webhook_token.encode()):
            return web.json_response({"error": "missing or wrong token"}, status=401)
        try:
            payload = jsonbody.parse(await request.read())
        except jsonbody.BadJson as exc:
            return web.json_response({"error": str(exc)}, status=400)
        if not isinstance(payload, dict):
            return web.json_response({"error": "expected a JSON object"}, status=400)
        try:
            parsed = parse(self.profile, payload)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
            return web.json_response({"error": f"not a Chatwoot {payload['event']} payload: {problems}"}, status=400)
        if parsed is None:
            return web.json_response({"status": "ignored"})
        event, key = parsed
        out = await self.service.handle(event, dedup_key=key)
        return web.json_response({"status": out.status, "survey_id": out.survey.id if out.survey else None})

    def rate_limits(self, delivery: Delivery) -> list[Limit]:
        return [(f"chatwoot:{self.config.base_url}", Rate(self.config.rate_per_second, burst=5))]

    async def say(self, delivery: Delivery, action: Say) -> str | None:
        return await self._message(delivery, {"content": action.text})

    async def ask_score(self, delivery: Delivery, action: AskScore) -> str | None:
        """An option list; the customer's pick comes back as its title, which core reads as the number. Once
        picked, the list collapses by itself, so there is nothing to mark answered."""
        items = [{"title": label, "value": str(n)} for n, label in enumerate(score_labels(action))]
        body = {"content": action.text, "content_type": "input_select", "content_attributes": {"items": items}}
        return await self._message(delivery, body)

    async def alert(self, delivery: Delivery, action: DetractorAlert) -> str | None:
        """A private note for the team inside the conversation."""
        return await self._message(delivery, {"content": action.text, "private": True})

    async def _message(self, delivery: Delivery, body: dict[str, Any]) -> str | None:
        """Errors name the status only: what Chatwoot (or anything answering at base_url) says stays out of
        last_error. A redirect is refused, so the api_access_token goes nowhere but base_url."""
        conv = conversation_number(delivery.conversation_id)
        if conv is None:
            raise PermanentFailure("Chatwoot conversation id is not a positive integer; nothing sent")
        session = await self.http()
        account = int(self.config.account_id)
        url = f"{self.config.base_url.rstrip('/')}/api/v1/accounts/{account}/conversations/{conv}/messages"
        headers = {"api_access_token": self.config.api_token}
        body = {**body, "message_type": "outgoing"}
        async with session.post(url, json=body, headers=headers, allow_redirects=False) as resp:
            if resp.status == 429:
                raise RetryLater(status_text(429), retry_after(resp))
            if resp.status == 404:
                raise PermanentFailure(f"404 Chatwoot conversation {conv} not found", unreachable=True)
            if 300 <= resp.status < 500 and resp.status != 408:
                raise PermanentFailure(status_text(resp.status))
            if resp.status >= 300 or resp.status < 200:
                raise DeliveryError(status_text(resp.status))
            try:
                created = json.loads(await read_capped(resp))
            except ValueError:
                return None
            return str(created["id"]) if isinstance(created, dict) and created.get("id") is not None else None


def conversation_number(value: Any) -> int | None:
    """A conversation id as it may go into Chatwoot's URL: a positive integer (as stored, its decimal text), else
    None. Checked again on the way out, so a row queued before ids were validated on the way in can't steer the
    request elsewhere."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    return value if isinstance(value, int) and 1 <= value <= MAX_INT else None
