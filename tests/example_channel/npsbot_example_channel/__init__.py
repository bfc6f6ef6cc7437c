"""A text-only channel: a bridge posts customer events to `POST /example/{profile}` (bearer token) and receives
every message to show as a JSON POST to its `deliver_url`. It implements `say` alone, so core words the score
question as text ("reply 0–10") and the customer's typed reply is read as the score."""

from __future__ import annotations

import hmac
from typing import Literal

import aiohttp
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.spec import Channel, ChannelDeps, ChannelSpec
from core import jsonbody
from core.channel import Delivery
from core.delivery import DeliveryError, PermanentFailure, RetryLater
from core.types import Address, ConversationClosed, Say, TextReceived


class ExampleConfig(BaseModel):
    """`profiles.<p>.channels.example`; every key is checked by `npsbot check-config`."""

    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not an ignored setting
    token: str = Field(min_length=16)  # the bridge sends it as `Authorization: Bearer …`
    deliver_url: str = Field(pattern=r"^https?://")


class Event(BaseModel):
    """What the bridge posts: a conversation closed, or a customer's message."""

    model_config = ConfigDict(extra="forbid", strict=True)
    type: Literal["close", "message"]
    id: str = Field(min_length=1, max_length=200)  # a replay with the same id is ignored
    conversation_id: str = Field(min_length=1, max_length=191)
    user_id: str = Field(min_length=1, max_length=128)
    text: str = Field("", max_length=10_000)


class ExampleChannel(Channel):
    name = "example"  # the channel's one name: config key, outbox rows, URLs

    def __init__(self, deps: ChannelDeps, config: ExampleConfig) -> None:
        self.deps, self.config, self.profile = deps, config, deps.profile
        self.session: aiohttp.ClientSession | None = None

    def mount(self, app: web.Application) -> None:
        app.router.add_post(f"/example/{self.profile}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, f"Bearer {self.config.token}".encode()):
            return web.json_response({"error": "missing or wrong token"}, status=401)
        try:
            event = Event.model_validate(jsonbody.parse(await request.read()))
        except jsonbody.BadJson as exc:
            return web.json_response({"error": str(exc)}, status=400)
        except ValidationError as exc:
            return web.json_response({"error": f"{exc.error_count()} invalid fields"}, status=422)
        address = Address(self.name, self.profile, event.conversation_id, event.user_id)
        core_event = ConversationClosed(address) if event.type == "close" else TextReceived(address, event.text)
        out = await self.deps.service.handle(core_event, dedup_key=f"{self.name}:{self.profile}:{event.id}")
        state = str(out.survey.state) if out.survey else None
        return web.json_response({"status": out.status, "state": state})

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def say(self, delivery: Delivery, action: Say) -> str | None:
        """The one send a channel must have; a worker-only process sends without `start`, so the session is
        opened on first use. Errors tell the worker whether to retry."""
        if self.session is None:
            self.session = self.deps.http_session(timeout=aiohttp.ClientTimeout(total=20))
        body = {"conversation_id": delivery.conversation_id, "user_id": delivery.user_id, "text": action.text}
        async with self.session.post(self.config.deliver_url, json=body) as resp:
            if resp.status == 429:
                raise RetryLater("429 Too Many Requests")
            if 400 <= resp.status < 500:
                raise PermanentFailure(f"{resp.status} refused")
            if not 200 <= resp.status < 300:
                raise DeliveryError(f"{resp.status} from the bridge")
        return f"example-{delivery.id}"


# Customers only: no detractor alert may be configured to go here.
SPEC = ChannelSpec(name=ExampleChannel.name, config=ExampleConfig, build=ExampleChannel, alerts=False)
