"""An in-process channel: what a platform would show the customer is appended to a list. Tests drive the whole
loop through it without a network; its trial endpoint (`POST /memory/{profile}`, mounted only for a profile whose
config says `http: true`, behind its token) lets an operator do the same over HTTP."""

from __future__ import annotations

import hmac
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, ClassVar, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.memory.config import NAME, MemoryConfig
from adapters.spec import Channel
from core import jsonbody
from core.channel import Delivery, tag
from core.service import Outcome, SurveyService
from core.types import (
    Address,
    AskComment,
    AskScore,
    ConversationClosed,
    ConversationReopened,
    DetractorAlert,
    MarkAnswered,
    OptOut,
    OutboundAction,
    Say,
    ScoreGiven,
    TextReceived,
)

CHANNEL = NAME
MAX_SURVEY_ID = 2**63 - 1  # a signed 64-bit column on every backend
Ident = Annotated[str, Field(min_length=1, max_length=191)]  # the width of surveys.conversation_id
ContactId = Annotated[str, Field(min_length=1, max_length=128)]  # the width of contacts.user_id


@dataclass(frozen=True)
class Delivered:
    """One send as the customer (or the team) would see it: the action as core gave it, buttons and all."""

    ref: str
    delivery: Delivery
    action: OutboundAction

    @property
    def kind(self) -> str:
        return tag(type(self.action))

    @property
    def conversation_id(self) -> str:
        return self.delivery.conversation_id

    @property
    def user_id(self) -> str:
        return self.delivery.user_id


TRIALS = web.AppKey("memory_trials", dict)  # profile → its memory channel, for the one trial route


@dataclass
class MemoryChannel(Channel):
    """Sender and inbound driver for one profile."""

    name: ClassVar[str] = CHANNEL
    service: SurveyService
    profile: str
    config: MemoryConfig = field(default_factory=MemoryConfig)
    delivered: list[Delivered] = field(default_factory=list)
    _refs: itertools.count = field(default_factory=lambda: itertools.count(1))

    def mount(self, app: web.Application) -> None:
        """One route serves every profile whose memory channel enables the trial endpoint: the first such channel
        adds it, each adds itself to the route's table."""
        if not (self.config.http and self.config.token):
            return
        trials = app.get(TRIALS)
        if trials is None:
            trials = app[TRIALS] = {}
            app.router.add_routes(http_routes(trials))
        trials[self.profile] = self

    def address(self, conversation_id: str, user_id: str) -> Address:
        return Address(CHANNEL, self.profile, conversation_id, user_id)

    async def _show(self, delivery: Delivery, action: OutboundAction) -> str:
        ref = f"m{next(self._refs)}"
        self.delivered.append(Delivered(ref, delivery, action))
        return ref

    async def say(self, delivery: Delivery, action: Say) -> str | None:
        return await self._show(delivery, action)

    async def ask_score(self, delivery: Delivery, action: AskScore) -> str | None:
        return await self._show(delivery, action)

    async def ask_comment(self, delivery: Delivery, action: AskComment) -> str | None:
        return await self._show(delivery, action)

    async def mark_answered(self, delivery: Delivery, action: MarkAnswered) -> str | None:
        return await self._show(delivery, action)

    async def alert(self, delivery: Delivery, action: DetractorAlert) -> str | None:
        return await self._show(delivery, action)

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


class _TrialEvent(BaseModel):
    """Fields are bounded to what the tables hold; strict, so an id is a string and a score is not a bool."""

    model_config = ConfigDict(extra="forbid", strict=True)
    conversation_id: Ident
    id: str | None = Field(None, min_length=1, max_length=200)  # delivery key: a replay with the same id is ignored


class TrialClose(_TrialEvent):
    type: Literal["close"]
    user_id: ContactId
    agent: str | None = Field(None, max_length=191)
    team: str | None = Field(None, max_length=191)
    locale: str | None = Field(None, max_length=16)
    name: str | None = Field(None, max_length=256)


class TrialMessage(_TrialEvent):
    type: Literal["message"]
    user_id: ContactId
    text: str = Field(max_length=10_000)


class TrialTap(_TrialEvent):
    type: Literal["tap"]
    user_id: ContactId
    score: int = Field(ge=0, le=10)
    survey_id: int | None = Field(None, ge=1, le=MAX_SURVEY_ID)


class TrialReopen(_TrialEvent):
    type: Literal["reopen"]
    user_id: str | None = Field(None, max_length=128)  # accepted and ignored: a reopen names no customer


TRIAL_EVENTS: dict[str, type[_TrialEvent]] = {
    "close": TrialClose,
    "message": TrialMessage,
    "tap": TrialTap,
    "reopen": TrialReopen,
}


def parse_trial_event(body: bytes) -> _TrialEvent:
    """400 (BadJson) for what is not a JSON object with a known `type`, 422 (ValidationError) for bad fields."""
    data = jsonbody.parse(body)
    kind = data.get("type") if isinstance(data, dict) else None
    model = TRIAL_EVENTS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise jsonbody.BadJson(f"expected a JSON object whose type is one of {', '.join(TRIAL_EVENTS)}")
    return model.model_validate(data)


async def apply_trial_event(channel: MemoryChannel, event: _TrialEvent) -> Outcome:
    if isinstance(event, TrialClose):
        return await channel.close(
            event.conversation_id,
            event.user_id,
            agent=event.agent,
            team=event.team,
            locale=event.locale,
            name=event.name,
            event_id=event.id,
        )
    if isinstance(event, TrialMessage):
        return await channel.reply(event.conversation_id, event.user_id, event.text, event_id=event.id)
    if isinstance(event, TrialTap):
        return await channel.tap(
            event.conversation_id, event.user_id, event.score, survey_id=event.survey_id, event_id=event.id
        )
    assert isinstance(event, TrialReopen)
    return await channel.reopen(event.conversation_id, event_id=event.id)


def bearer_matches(header: str, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    given = header[7:].strip() if header[:7].lower() == "bearer " else ""
    return bool(given) and hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode())


def http_routes(channels: Mapping[str, MemoryChannel]) -> list[web.RouteDef]:
    """`POST /memory/{profile}` for trials: one event as JSON (see TRIAL_EVENTS), for the profiles in `channels`
    whose config has `http: true`, each behind its own bearer token."""

    def error(status: int, message: str, **headers: str) -> web.Response:
        return web.json_response({"error": message}, status=status, headers=headers)

    async def handle(request: web.Request) -> web.Response:
        profile = request.match_info["profile"]
        channel = channels.get(profile)
        token = channel.config.token if channel is not None and channel.config.http else None
        if channel is None or not token:
            return error(404, "unknown profile")
        if not bearer_matches(request.headers.get("Authorization", ""), token):
            return error(401, "missing or invalid bearer token", **{"WWW-Authenticate": 'Bearer realm="npsbot"'})
        try:
            event = parse_trial_event(await request.read())
        except jsonbody.BadJson as exc:
            return error(400, str(exc))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:8])
            return error(422, problems)
        out = await apply_trial_event(channel, event)
        return web.json_response(
            {
                "status": out.status,
                "survey_id": out.survey.id if out.survey else None,
                "state": str(out.survey.state) if out.survey else None,
            }
        )

    return [web.post("/memory/{profile}", handle)]
