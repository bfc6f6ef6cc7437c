"""The generic webhook channel: signed events in at /webhook/{profile}/events, signed messages out to the
bridge's deliver_url (or an alert URL)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from adapters.http import HttpClient, request_origin
from adapters.spec import Channel, ChannelDeps
from adapters.webhook import signing
from adapters.webhook.config import NAME, WebhookConfig
from adapters.webhook.http import json_body, post_signed
from adapters.webhook.inbound import parser, to_core
from core import jsonbody
from core.channel import Delivery, score_labels
from core.delivery import PermanentFailure
from core.ratelimit import Limit, Rate
from core.types import AskComment, AskScore, DetractorAlert, Digest, MarkAnswered, Say

log = logging.getLogger(__name__)


class WebhookChannel(HttpClient, Channel):
    name = NAME

    def __init__(self, deps: ChannelDeps, config: WebhookConfig) -> None:
        self.service = deps.service
        self.profile = deps.profile
        self.settings = deps.settings
        self.config = config
        self.rate = Rate(config.rate_per_second, burst=max(1, int(config.rate_per_second)))

    @property
    def send_bound(self) -> float:  # type: ignore[override]
        """Each send is one request (_post), which the session's total timeout ends."""
        return self.request_timeout

    @property
    def delivery_secret(self) -> str:
        return self.config.delivery_secret or self.config.secrets[0]

    def mount(self, app: web.Application) -> None:
        app.router.add_post(f"/webhook/{self.profile}/events", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()  # the signature covers the raw bytes: verify before parsing
        try:
            msg_id = signing.verify(self.config.secrets, request.headers, body)
        except signing.InvalidSignature as exc:
            return web.json_response({"error": str(exc)}, status=401)
        try:
            data = jsonbody.parse(body)
        except jsonbody.BadJson as exc:
            return web.json_response({"error": str(exc)}, status=400)
        try:
            event = parser.validate_python(data)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
            return web.json_response({"error": f"invalid event: {problems}"}, status=400)
        key = f"webhook:{self.profile}:{msg_id}"
        out = await self.service.handle(to_core(self.profile, event), dedup_key=key)
        survey = out.survey
        return web.json_response(
            {
                "status": out.status,
                "survey_id": survey.id if survey else None,
                "state": str(survey.state) if survey else None,
            }
        )

    def rate_limits(self, delivery: Delivery) -> list[Limit]:
        """Everything this channel posts for the profile is paced together at the bridge's rate, detractor alerts
        (rare, and perhaps to another URL) included."""
        return [(f"webhook:{self.config.deliver_url or self.profile}", self.rate)]

    def _deliver_url(self) -> str:
        if not self.config.deliver_url:
            raise PermanentFailure(f"profile {self.profile} has no webhook deliver_url")
        return self.config.deliver_url

    def _alert_url(self, delivery: Delivery) -> str:
        """The alert's URL (its delivery's conversation id), refused unless it is on the origin of one of the
        profile's webhook alert destinations: core encodes a conversation id into its template and refuses a result
        on another host; this holds for rows queued before that, too."""
        url = delivery.conversation_id
        allowed = {request_origin(d) for d in self.settings.alert_destinations(self.name)}  # rules' targets too
        if request_origin(url) is None or request_origin(url) not in allowed:
            raise PermanentFailure("alert destination refused: not on the host of a configured alert destination")
        return url

    async def _post(self, url: str, delivery: Delivery, type_: str, text: str, **extra: Any) -> str:
        """One signed message; its webhook-id (`msg_<outbox id>`) stays the same on every retry."""
        message: dict[str, Any] = {
            "type": type_,
            "profile": self.profile,
            "survey_id": delivery.survey_id,
            "conversation_id": delivery.conversation_id,
            "contact_id": delivery.user_id,
            "thread": delivery.thread,
            "locale": delivery.locale,
            "text": text,
            **extra,
        }
        msg_id = f"msg_{delivery.id}"
        await post_signed(await self.http(), url, json_body(message), self.delivery_secret, msg_id)
        return msg_id

    async def say(self, delivery: Delivery, action: Say) -> str | None:
        return await self._post(self._deliver_url(), delivery, "message", action.text)

    async def ask_score(self, delivery: Delivery, action: AskScore) -> str | None:
        options = [{"value": n, "label": label} for n, label in enumerate(score_labels(action))]
        return await self._post(self._deliver_url(), delivery, "question", action.text, options=options)

    async def ask_comment(self, delivery: Delivery, action: AskComment) -> str | None:
        # "follow_up" is the bridge's name for the comment question: a public wire name, kept (see the README).
        return await self._post(self._deliver_url(), delivery, "follow_up", action.text)

    async def mark_answered(self, delivery: Delivery, action: MarkAnswered) -> str | None:
        url = self._deliver_url()
        return await self._post(url, delivery, "question_answered", action.text, score=action.score)

    async def alert(self, delivery: Delivery, action: DetractorAlert) -> str | None:
        a = action
        about = {"score": a.score, "comment": a.comment, "customer": a.customer, "agent": a.agent, "team": a.team}
        about |= {"channel": a.channel, "link": a.link, "conversation_id": a.conversation_id}  # the customer's
        about |= {"priority": a.priority, "tags": list(a.tags), "escalation": a.escalation}  # routing rules, SLAs
        return await self._post(self._alert_url(delivery), delivery, "detractor_alert", a.text, **about)

    async def send_digest(self, delivery: Delivery, action: Digest) -> str | None:
        """A signed digest to one of the profile's digest URLs (the delivery's conversation id): the text, the
        figures as JSON and the chart as base64."""
        url = delivery.conversation_id
        digest = self.settings.digest
        if digest is None or url not in {t.destination for t in digest.targets if t.channel == self.name}:
            raise PermanentFailure("digest destination refused: not a configured digest target")
        extra = {"subject": action.subject, "figures": action.figures}
        extra |= {"image_png": action.image_png, "image_name": action.image_name if action.image_png else None}
        return await self._post(url, delivery, "digest", action.text, **extra)
