"""Core's outbound actions → Cloud API messages (POST `{api_base}/{phone_number_id}/messages`), and Graph errors
→ the worker's delivery errors (adapters.whatsapp.errors).

The 24-hour customer-service window decides how the question goes out. Inside it (the customer's last message,
recorded from the webhook, is under 24 hours old) it is the interactive list; outside it, the approved template for
the survey's language, or the profile's default language; with no template, `OutsideWindow` (the worker skips the
survey as `outside_window`). When npsbot never saw the customer write (a survey opened by a help desk whose inbox
receives the messages), the list is tried, and Meta's answer 131047 (outside the window) falls back to the template
in the same send. Everything else (the comment question, thanks, re-asks) follows a customer's message, so it is
plain text; should the window have closed meanwhile, it ends as a dead letter naming the window."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from adapters.metagraph.client import GraphClient, GraphError
from adapters.metagraph.window import within_window
from adapters.spec import ChannelDeps
from adapters.whatsapp.config import NAME, WhatsAppConfig
from adapters.whatsapp.errors import ACCESS, for_code, needs_operator
from adapters.whatsapp.payloads import MAX_TEXT, WA_ID
from adapters.whatsapp.scale import score_list, step_buttons
from adapters.whatsapp.steps import STEP
from adapters.whatsapp.templates import choose, template_message
from adapters.whatsapp.texts import labels
from core.channel import Delivery, OutboundChannel
from core.delivery import OutsideWindow, PermanentFailure
from core.ratelimit import Limit, Rate
from core.types import AskScore, Say

log = logging.getLogger(__name__)
PER_CUSTOMER_BURST = 3  # the thanks and a review invitation may follow a comment back to back


def _recipient(delivery: Delivery) -> str:
    """The customer's WhatsApp id as stored for the conversation; checked again on the way out."""
    to = delivery.conversation_id
    if not WA_ID.fullmatch(to or ""):
        raise PermanentFailure("WhatsApp recipient is not a WhatsApp id; nothing sent")
    return to


class WhatsAppSender(OutboundChannel):
    def __init__(self, deps: ChannelDeps, config: WhatsAppConfig) -> None:
        self.deps = deps
        self.config = config
        self.profile = deps.profile
        self.number = (f"{NAME}:{config.phone_number_id}", Rate(config.rate_per_second, exact=True))
        self.per_customer = Rate.per_minute(config.per_customer_per_minute, burst=PER_CUSTOMER_BURST)
        self.session: aiohttp.ClientSession | None = None
        self._client: GraphClient | None = None
        self._warned: set[int | None] = set()  # codes warned about since the last send Meta took

    async def start(self) -> None:
        if self.session is None:
            self.session = self.deps.http_session(timeout=aiohttp.ClientTimeout(total=20))
            self._client = GraphClient(self.session, self.config.api_base, self.config.access_token)

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session, self._client = None, None

    async def client(self) -> GraphClient:
        await self.start()
        assert self._client is not None
        return self._client

    def rate_limits(self, delivery: Delivery) -> list[Limit]:
        """The number's throughput, and Meta's pair limit for this one customer."""
        return [self.number, (self._customer_bucket(delivery.conversation_id), self.per_customer)]

    def _customer_bucket(self, to: str) -> str:
        return f"{NAME}:{self.config.phone_number_id}:{to}"

    async def say(self, delivery: Delivery, action: Say) -> str | None:
        to = _recipient(delivery)
        if action.purpose == STEP and delivery.survey_id is not None:
            return await self._send(step_buttons(to, delivery.survey_id, action.text), "second step")
        body = {"body": action.text[:MAX_TEXT], "preview_url": action.purpose == "review_invite"}
        message = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text"}
        return await self._send({**message, "text": body}, action.purpose)

    async def ask_score(self, delivery: Delivery, action: AskScore) -> str | None:
        """The list inside the window, the template outside it; returns the wamid, the survey's question ref."""
        if delivery.survey_id is None:
            raise PermanentFailure("a WhatsApp question needs its survey id; nothing sent")
        to = _recipient(delivery)
        last = await self.deps.service.last_inbound(self.profile, NAME, delivery.user_id)
        if last is not None and not within_window(last, self.deps.clock()):
            return await self._template(to, delivery, action)
        policy = self.deps.settings.policy
        choose_label = labels(delivery.locale, policy.locale, self.config.labels).choose
        message = score_list(to, delivery.survey_id, action.text, action.low_label, action.high_label, choose_label)
        try:
            return await self._send(message, "question")
        except OutsideWindow:
            return await self._template(to, delivery, action)

    async def _template(self, to: str, delivery: Delivery, action: AskScore) -> str | None:
        assert delivery.survey_id is not None
        policy = self.deps.settings.policy
        template = choose(self.config.templates, delivery.locale, policy.locale)
        if template is None:
            raise OutsideWindow("outside the 24-hour window and no WhatsApp template configured for the locale")
        values = {"brand": policy.brand, "question": action.text}
        return await self._send(template_message(to, template, delivery.survey_id, values), f"template {template.name}")

    def _refused(self, exc: GraphError, what: str) -> None:
        """A WARNING the first time a code refuses a send (until a send goes through again), INFO after that: a bad
        token refuses every queued message, and one line says so. Codes and what was sent, never the customer."""
        level = logging.INFO if exc.code in self._warned else logging.WARNING
        self._warned.add(exc.code)
        kind = "access token, permission or account" if exc.code in ACCESS else "request or template"
        log.log(level, "whatsapp %s: Meta refused a %s: %s error %s (subcode %s)", self.profile, what, kind, exc.code,
                exc.subcode)  # fmt: skip

    async def _send(self, message: dict[str, Any], what: str | None) -> str | None:
        client = await self.client()
        try:
            answer = await client.post([self.config.phone_number_id, "messages"], message)
        except GraphError as exc:
            if needs_operator(exc.code):
                self._refused(exc, what or "message")
            to = message.get("to")
            bucket = self._customer_bucket(to) if isinstance(to, str) else None
            raise for_code(exc.status, exc.code, exc.subcode, customer_bucket=bucket) from exc
        self._warned.clear()
        sent = answer.get("messages")
        if isinstance(sent, list) and sent and isinstance(sent[0], dict) and isinstance(sent[0].get("id"), str):
            return str(sent[0]["id"])[:191]
        return None
