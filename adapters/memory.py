"""An in-process channel: what a platform would show the customer is appended to a list. Tests and the demo
drive the whole loop through it without a network."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from core.service import Outcome, SurveyService
from core.store.outbox import OutboxItem
from core.types import Address, ConversationClosed, ConversationReopened, OptOut, ScoreGiven, TextReceived

CHANNEL = "memory"


@dataclass
class Delivered:
    ref: str
    kind: str
    conversation_id: str
    user_id: str
    payload: dict[str, Any]


@dataclass
class MemoryChannel:
    """Sender and inbound driver for one profile."""

    service: SurveyService
    profile: str
    delivered: list[Delivered] = field(default_factory=list)
    _refs: itertools.count = field(default_factory=lambda: itertools.count(1))

    def address(self, conversation_id: str, user_id: str) -> Address:
        return Address(CHANNEL, self.profile, conversation_id, user_id)

    async def send(self, item: OutboxItem) -> str | None:
        ref = f"m{next(self._refs)}"
        t = item.target
        self.delivered.append(
            Delivered(ref, item.kind, t.get("conversation_id", ""), t.get("user_id", ""), item.payload)
        )
        return ref

    def inbox(self, conversation_id: str) -> list[Delivered]:
        return [d for d in self.delivered if d.conversation_id == conversation_id]

    async def close(
        self,
        conversation_id: str,
        user_id: str,
        *,
        agent: str | None = None,
        team: str | None = None,
        locale: str | None = None,
        name: str | None = None,
        event_id: str | None = None,
    ) -> Outcome:
        event = ConversationClosed(self.address(conversation_id, user_id), agent, team, locale, name)
        return await self.service.handle(event, dedup_key=_key(event_id))

    async def tap(
        self,
        conversation_id: str,
        user_id: str,
        score: int,
        *,
        survey_id: int | None = None,
        event_id: str | None = None,
    ) -> Outcome:
        event = ScoreGiven(self.address(conversation_id, user_id), score, survey_id)
        return await self.service.handle(event, dedup_key=_key(event_id))

    async def reply(self, conversation_id: str, user_id: str, text: str, *, event_id: str | None = None) -> Outcome:
        event = TextReceived(self.address(conversation_id, user_id), text)
        return await self.service.handle(event, dedup_key=_key(event_id))

    async def reopen(self, conversation_id: str, *, event_id: str | None = None) -> Outcome:
        """The conversation came back before the customer answered (a reopen names no customer)."""
        event = ConversationReopened(self.address(conversation_id, ""))
        return await self.service.handle(event, dedup_key=_key(event_id))

    async def block(self, conversation_id: str, user_id: str, *, event_id: str | None = None) -> Outcome:
        """The customer left or blocked the channel, as a platform would report it."""
        event = OptOut(self.address(conversation_id, user_id))
        return await self.service.handle(event, dedup_key=_key(event_id))


def _key(event_id: str | None) -> str | None:
    return None if event_id is None else f"{CHANNEL}:{event_id}"


def http_routes(channels: dict[str, MemoryChannel]) -> list[Any]:
    """`POST /memory/{profile}` for trials and tests: {"type": "close"|"message"|"tap"|"reopen", ...} as JSON."""
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        channel = channels.get(request.match_info["profile"])
        if channel is None:
            return web.json_response({"error": "unknown profile"}, status=404)
        try:
            body = await request.json()
            kind, conv, user = body["type"], str(body["conversation_id"]), str(body["user_id"])
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response({"error": f"malformed body: {exc}"}, status=400)
        event_id = body.get("id")
        if kind == "close":
            out = await channel.close(
                conv, user, agent=body.get("agent"), team=body.get("team"), locale=body.get("locale"), event_id=event_id
            )
        elif kind == "message":
            out = await channel.reply(conv, user, str(body.get("text", "")), event_id=event_id)
        elif kind == "tap" and type(body.get("score")) is int and 0 <= body["score"] <= 10:  # not a bool
            out = await channel.tap(conv, user, body["score"], survey_id=body.get("survey_id"), event_id=event_id)
        elif kind == "reopen":
            out = await channel.reopen(conv, event_id=event_id)
        else:
            return web.json_response(
                {"error": "type must be close, message, reopen or tap (with score 0-10)"}, status=400
            )
        return web.json_response(
            {
                "status": out.status,
                "survey_id": out.survey.id if out.survey else None,
                "state": str(out.survey.state) if out.survey else None,
            }
        )

    return [web.post("/memory/{profile}", handle)]
