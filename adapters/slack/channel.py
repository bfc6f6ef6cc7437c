"""One slack-bolt AsyncApp per profile, mounted at /slack/{profile}/events for events, interactivity, slash
commands and shortcuts alike."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.listeners import Context, register
from adapters.slack.sender import SlackSender
from core.profiles import ProfileSettings
from core.ratelimit import Limit
from core.service import SurveyService
from core.store.outbox import OutboxItem


class SlackChannel:
    channel = "slack"

    def __init__(
        self,
        service: SurveyService,
        profile: str,
        settings: ProfileSettings,
        config: Any,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.profile = profile
        kwargs = {"base_url": config.api_base} if config.api_base else {}
        self.client = AsyncWebClient(token=config.bot_token, **kwargs)
        # Events are acknowledged before the listener runs (Slack retries after 3 s without an answer).
        self.app = AsyncApp(
            client=self.client,
            signing_secret=config.signing_secret,
            process_before_response=False,
            raise_error_for_unhandled_request=False,
        )
        self._running: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        ctx = Context(service, profile, settings, self.client, config.close_reaction, frozenset(config.agents), clock)
        register(self.app, ctx, self._track)
        self.sender = SlackSender(self.client, profile)

    def _track(self, listener: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(listener)
        async def wrapped(*args: Any, **kwargs: Any) -> Any:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            self._idle.clear()
            try:
                return await listener(*args, **kwargs)
            finally:
                if task is not None:
                    self._running.discard(task)
                if not self._running:
                    self._idle.set()

        return wrapped

    async def idle(self) -> None:
        """Wait until work started by acknowledged events has finished."""
        await asyncio.sleep(0)
        for _ in range(100):
            await self._idle.wait()
            await asyncio.sleep(0.01)
            if self._idle.is_set():
                return

    def mount(self, app: web.Application) -> None:
        app.router.add_post(f"/slack/{self.profile}/events", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        """Bolt verifies the signature and the 5-minute window (401 otherwise), answers url_verification,
        and acks before our listeners run."""
        bolt_response = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.idle()
        session = getattr(self.client, "session", None)
        if session is not None and not session.closed:
            await session.close()

    def rate_limits(self, item: OutboxItem) -> list[Limit]:
        return self.sender.rate_limits(item)

    async def send(self, item: OutboxItem) -> str | None:
        return await self.sender.send(item)
