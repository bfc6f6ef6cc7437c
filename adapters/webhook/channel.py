"""The generic webhook channel: signed events in at /webhook/{profile}/events, signed messages out to the
bridge's deliver_url (or an alert URL)."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from adapters.http import HttpClient, request_origin
from adapters.webhook import signing
from adapters.webhook.http import post_signed
from adapters.webhook.inbound import parser, to_core
from core import jsonbody
from core.delivery import PermanentFailure
from core.profiles import ProfileSettings
from core.ratelimit import Limit, Rate
from core.service import SurveyService
from core.store.outbox import OutboxItem

log = logging.getLogger(__name__)
TYPES = {
    "ask_score": "question",
    "ask_comment": "follow_up",  # the comment question: a public wire name, kept (see the README)
    "say": "message",
    "mark_answered": "question_answered",
    "alert_detractor": "detractor_alert",
}


class WebhookChannel(HttpClient):
    channel = "webhook"

    def __init__(self, service: SurveyService, profile: str, settings: ProfileSettings, config: Any) -> None:
        self.service = service
        self.profile = profile
        self.settings = settings
        self.config = config
        self.rate = Rate(config.rate_per_second, burst=max(1, int(config.rate_per_second)))

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

    def rate_limits(self, item: OutboxItem) -> list[Limit]:
        """Keyed by target URL without checking it: a refused URL is reported by `send`, as a dead letter."""
        url = item.target.get("conversation_id") if item.kind == "alert_detractor" else self.config.deliver_url
        return [(f"webhook:{url}", self.rate)]

    def _url(self, item: OutboxItem) -> str:
        if item.kind == "alert_detractor":
            return self._alert_url(item)
        if not self.config.deliver_url:
            raise PermanentFailure(f"profile {self.profile} has no webhook deliver_url")
        return self.config.deliver_url

    def _alert_url(self, item: OutboxItem) -> str:
        """The alert's URL, refused unless it is on the origin of one of the profile's webhook alert destinations:
        core encodes a conversation id into its template and refuses a result on another host; this holds for rows
        queued before that, too."""
        if item.target.get("refused"):
            raise PermanentFailure(str(item.target["refused"]))
        url = str(item.target.get("conversation_id", ""))
        allowed = {request_origin(t.destination) for t in self.settings.alert_targets if t.channel == self.channel}
        if request_origin(url) is None or request_origin(url) not in allowed:
            raise PermanentFailure("alert destination refused: not on the host of a configured alert destination")
        return url

    async def send(self, item: OutboxItem) -> str | None:
        p, t = item.payload, item.target
        message: dict[str, Any] = {
            "type": TYPES.get(item.kind, item.kind),
            "profile": self.profile,
            "survey_id": item.survey_id,
            "conversation_id": t.get("conversation_id"),
            "contact_id": t.get("user_id"),
            "thread": t.get("thread"),
            "locale": t.get("locale"),
            "text": p.get("text"),
        }
        if item.kind == "ask_score":
            low, high = p["low_label"], p["high_label"]
            message["options"] = [
                {"value": n, "label": f"{n} · {low}" if n == 0 else f"{n} · {high}" if n == 10 else str(n)}
                for n in range(11)
            ]
        elif item.kind == "mark_answered":
            message["score"] = p.get("score")
        elif item.kind == "alert_detractor":
            message.update({k: p.get(k) for k in ("score", "comment", "customer", "agent", "team", "channel", "link")})
            message["conversation_id"] = p.get("conversation_id")
        body = json.dumps(message, ensure_ascii=False).encode()
        await post_signed(await self.http(), self._url(item), body, self.delivery_secret, f"msg_{item.id}")
        return f"msg_{item.id}"
