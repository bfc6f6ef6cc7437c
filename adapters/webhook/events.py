"""Outbound event subscriptions (survey.responded, survey.completed, detractor.created), signed per subscriber."""

from __future__ import annotations

from collections.abc import Mapping

from adapters.http import HttpClient
from adapters.webhook.http import json_body, post_signed
from core.channel import Delivery, OutboundChannel
from core.delivery import PermanentFailure
from core.outbound import EVENTS_CHANNEL
from core.ratelimit import Limit, Rate
from core.types import EventNotice, Say


class EventSender(HttpClient, OutboundChannel):
    """`secrets` maps (profile, url) to the subscriber's signing secret. A delivery's conversation id is the
    subscriber's URL; one sender serves every profile."""

    channel = EVENTS_CHANNEL
    profile = "*"

    def __init__(self, secrets: Mapping[tuple[str, str], str | None], rate: Rate = Rate(10.0, burst=10)) -> None:
        self.secrets = dict(secrets)
        self.rate = rate

    @property
    def send_bound(self) -> float:  # type: ignore[override]
        """Each notice is one request, which the session's total timeout ends."""
        return self.request_timeout

    def rate_limits(self, delivery: Delivery) -> list[Limit]:
        return [(f"events:{delivery.conversation_id}", self.rate)]

    async def notify(self, delivery: Delivery, action: EventNotice) -> str | None:
        url = delivery.conversation_id
        key = (delivery.profile, url)
        if key not in self.secrets:
            raise PermanentFailure(f"no subscription for {url} in profile {delivery.profile}")
        secret = self.secrets[key]
        if not secret:
            raise PermanentFailure(f"subscription {url} has no secret to sign with")
        body = {"type": action.type, "timestamp": action.timestamp, "data": action.data}
        await post_signed(await self.http(), url, json_body(body), secret, f"evt_{delivery.id}")
        return f"evt_{delivery.id}"

    async def say(self, delivery: Delivery, action: Say) -> str | None:
        raise PermanentFailure("a subscription receives event notices only")
