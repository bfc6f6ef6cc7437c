"""Outbound event subscriptions (survey.responded, survey.completed, detractor.created), signed per subscriber."""

from __future__ import annotations

import json
from collections.abc import Mapping

from adapters.http import HttpClient
from adapters.webhook.http import post_signed
from core.delivery import PermanentFailure
from core.ratelimit import Limit, Rate
from core.store.outbox import OutboxItem


class EventSender(HttpClient):
    """`secrets` maps (profile, url) to the subscriber's signing secret."""

    channel = "events"
    profile = "*"

    def __init__(self, secrets: Mapping[tuple[str, str], str | None], rate: Rate = Rate(10.0, burst=10)) -> None:
        self.secrets = dict(secrets)
        self.rate = rate

    def rate_limits(self, item: OutboxItem) -> list[Limit]:
        return [(f"events:{item.target.get('url')}", self.rate)]

    async def send(self, item: OutboxItem) -> str | None:
        url = str(item.target.get("url", ""))
        key = (item.profile, url)
        if key not in self.secrets:
            raise PermanentFailure(f"no subscription for {url} in profile {item.profile}")
        secret = self.secrets[key]
        if not secret:
            raise PermanentFailure(f"subscription {url} has no secret to sign with")
        body = {"type": item.payload["type"], "timestamp": item.created_at.isoformat(), "data": item.payload["data"]}
        await post_signed(
            await self.http(), url, json.dumps(body, ensure_ascii=False).encode(), secret, f"evt_{item.id}"
        )
        return f"evt_{item.id}"
