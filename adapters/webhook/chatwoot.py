"""Chatwoot's own webhooks in, Chatwoot's API out: a conversation resolved in Chatwoot gets a survey in the same
conversation, shown as an option list (content_type input_select); the customer's pick or free text comes back as
an incoming message and is read by core's parser ("10 · Very likely" reads as 10)."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from aiohttp import web

from adapters.webhook.http import HttpClient
from core.delivery import DeliveryError, PermanentFailure, RetryLater
from core.profiles import ProfileSettings
from core.ratelimit import Limit, Rate
from core.service import SurveyService
from core.store.outbox import OutboxItem
from core.types import Address, ConversationClosed, ConversationReopened, InboundEvent, TextReceived

log = logging.getLogger(__name__)
CHANNEL = "chatwoot"


def parse(profile: str, payload: dict[str, Any]) -> tuple[InboundEvent, str] | None:
    """A Chatwoot webhook payload → (core event, dedup key), or None when it is not ours to act on."""
    event = payload.get("event")
    if event in ("conversation_status_changed", "conversation_resolved", "conversation_opened"):
        conv_id, status = payload.get("id"), payload.get("status")
        if conv_id is None:
            return None
        meta = payload.get("meta") or {}
        sender = meta.get("sender") or {}
        stamp = payload.get("timestamp") or ""
        key = f"{CHANNEL}:{profile}:{event}:{conv_id}:{status}:{stamp}"
        if event == "conversation_resolved" or status == "resolved":
            if sender.get("id") is None:
                return None
            assignee = meta.get("assignee") or {}
            team = meta.get("team") or {}
            attrs = payload.get("additional_attributes") or {}
            closed = ConversationClosed(
                Address(CHANNEL, profile, str(conv_id), str(sender["id"])),
                agent=assignee.get("name"),
                team=team.get("name"),
                locale=attrs.get("browser_language") or (sender.get("additional_attributes") or {}).get("language"),
                customer_name=sender.get("name"),
                case_id=f"{conv_id}:{stamp}",
                metadata={"inbox_id": payload.get("inbox_id"), "chatwoot_channel": payload.get("channel")},
            )
            return closed, key
        if event == "conversation_opened" or status == "open":
            return ConversationReopened(Address(CHANNEL, profile, str(conv_id), "")), key
        return None
    if event == "message_created":
        sender = payload.get("sender") or {}
        conversation = payload.get("conversation") or {}
        if payload.get("message_type") != "incoming" or sender.get("type") != "contact" or payload.get("private"):
            return None
        if conversation.get("id") is None or sender.get("id") is None:
            return None
        text = str(payload.get("content") or "")
        address = Address(CHANNEL, profile, str(conversation["id"]), str(sender["id"]))
        return TextReceived(address, text), f"{CHANNEL}:{profile}:message:{payload.get('id')}"
    return None


class ChatwootChannel(HttpClient):
    channel = CHANNEL

    def __init__(self, service: SurveyService, profile: str, settings: ProfileSettings, config: Any) -> None:
        self.service = service
        self.profile = profile
        self.settings = settings
        self.config = config

    def mount(self, app: web.Application) -> None:
        app.router.add_post(f"/chatwoot/{self.profile}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        """Chatwoot signs nothing, so the URL carries a shared token (?token=…) that must match."""
        given = request.query.get("token") or request.headers.get("X-Npsbot-Token", "")
        if not hmac.compare_digest(given.encode(), self.config.webhook_token.encode()):
            return web.json_response({"error": "missing or wrong token"}, status=401)
        try:
            payload = json.loads(await request.read())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return web.json_response({"error": f"malformed JSON: {exc}"}, status=400)
        if not isinstance(payload, dict):
            return web.json_response({"error": "expected a JSON object"}, status=400)
        parsed = parse(self.profile, payload)
        if parsed is None:
            return web.json_response({"status": "ignored"})
        event, key = parsed
        out = await self.service.handle(event, dedup_key=key)
        return web.json_response({"status": out.status, "survey_id": out.survey.id if out.survey else None})

    def rate_limits(self, item: OutboxItem) -> list[Limit]:
        return [(f"chatwoot:{self.config.base_url}", Rate(self.config.rate_per_second, burst=5))]

    async def send(self, item: OutboxItem) -> str | None:
        if item.kind == "mark_answered":
            return None  # the option list collapses by itself once the customer picks
        session = await self.http()
        conv = item.target.get("conversation_id")
        url = (
            f"{self.config.base_url.rstrip('/')}/api/v1/accounts/{self.config.account_id}/conversations/{conv}/messages"
        )
        body: dict[str, Any] = {"content": item.payload.get("text", ""), "message_type": "outgoing"}
        if item.kind == "alert_detractor":
            body["private"] = True  # a note for the team inside the conversation
        if item.kind == "ask_score":
            low, high = item.payload["low_label"], item.payload["high_label"]
            titles = [f"0 · {low}", *map(str, range(1, 10)), f"10 · {high}"]
            body["content_type"] = "input_select"
            body["content_attributes"] = {"items": [{"title": t, "value": str(n)} for n, t in enumerate(titles)]}
        headers = {"api_access_token": self.config.api_token}
        async with session.post(url, json=body, headers=headers) as resp:
            text = (await resp.text())[:300]
            if resp.status == 429:
                retry = resp.headers.get("Retry-After", "")
                raise RetryLater("429 from Chatwoot", float(retry) if retry.isdigit() else None)
            if resp.status == 404:
                raise PermanentFailure(f"Chatwoot conversation {conv} not found", unreachable=True)
            if resp.status in (401, 403, 422):
                raise PermanentFailure(f"{resp.status} from Chatwoot: {text}")
            if resp.status >= 300:
                raise DeliveryError(f"{resp.status} from Chatwoot: {text}")
            try:
                return str(json.loads(text).get("id")) if text else None
            except (ValueError, AttributeError):
                return None
