"""One slack-bolt AsyncApp per profile, mounted at /slack/{profile}/events for events, interactivity, slash
commands and shortcuts alike."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import urllib.parse
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.listeners import Context, register
from adapters.slack.sender import SlackSender
from core import jsonbody
from core.profiles import ProfileSettings
from core.ratelimit import Limit
from core.service import SurveyService
from core.store.outbox import OutboxItem

log = logging.getLogger(__name__)
WARM_UP_SECONDS = 5.0
SHAPE_ERRORS = (AttributeError, LookupError, TypeError)
MISSHAPEN = "malformed Slack request: not the shape of a Slack payload"


def _check_json(raw: bytes, content_type: str) -> None:
    """The JSON bolt is about to parse (the body, or a form's `payload`), read strictly first: nesting deep enough
    to exhaust the stack would otherwise surface as a 500 from inside bolt."""
    if content_type == "application/json":
        jsonbody.parse(raw)
    elif content_type == "application/x-www-form-urlencoded":
        for payload in urllib.parse.parse_qs(raw.decode("utf-8", "replace")).get("payload", []):
            jsonbody.parse(payload.encode())


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _on_error(error: Exception) -> BoltResponse | None:
    """Bolt answers 500 to anything that raises while it routes; a payload of the wrong shape is the sender's
    fault (400). After the ack (listener errors) the answer is already sent, so this only logs."""
    log.warning("slack request failed: %r", error, exc_info=error)
    if isinstance(error, SHAPE_ERRORS):
        return BoltResponse(status=400, body=json.dumps({"error": MISSHAPEN}))
    return None


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
        # slack_sdk joins base_url and the method name with urljoin, so the base must end with "/".
        kwargs = {"base_url": config.api_base.rstrip("/") + "/"} if config.api_base else {}
        self.client = AsyncWebClient(token=config.bot_token, **kwargs)
        self.verifier = SignatureVerifier(config.signing_secret)
        self._identity: AuthorizeResult | None = None

        async def authorize() -> AuthorizeResult:  # bolt passes arguments by name; this one needs none
            return await self._authorize()

        # Events are acknowledged before the listener runs (Slack retries after 3 s without an answer).
        # `authorize` serves the bot identity fetched once (at start), so no request waits on auth.test; bolt
        # then gives each request a client carrying the token, so its own client holds only the base URL.
        self.app = AsyncApp(
            client=AsyncWebClient(**kwargs),
            signing_secret=config.signing_secret,
            authorize=authorize,
            process_before_response=False,
            raise_error_for_unhandled_request=False,
        )
        self.app.error(_on_error)
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
        """Bolt verifies the signature and the 5-minute window, answers url_verification, and acks before our
        listeners run. Bolt parses the body when its request object is built, before that check, so the same
        verifier runs first here: unsigned input is refused (401) unparsed, signed garbage gets 400, not 500."""
        raw = await request.read()  # over client_max_size: 413
        try:
            valid = self.verifier.is_valid_request(raw, request.headers)
        except ValueError:  # a timestamp that is not a number, or a body that is not UTF-8
            valid = False
        if not valid:
            return _error(401, "invalid Slack signature or request older than 5 minutes")
        try:
            _check_json(raw, request.content_type)
        except jsonbody.BadJson as exc:
            return _error(400, f"{exc}")
        try:
            bolt_request = await to_bolt_request(request)
            bolt_response = await self.app.async_dispatch(bolt_request)
        except ValueError as exc:  # JSON that does not parse
            return _error(400, f"malformed Slack request: {exc}")
        except SHAPE_ERRORS as exc:  # bolt's routing (or its error handler) tripped over the payload
            log.warning("slack %s: unreadable payload: %r", self.profile, exc)
            return _error(400, MISSHAPEN)
        return await to_aiohttp_response(bolt_response)

    async def _authorize(self) -> AuthorizeResult:
        if self._identity is None:
            try:
                found = await self.client.auth_test()
            except SlackApiError as exc:
                # Bolt answers 200 to a failed authorize, and the event would be lost; a 500 makes Slack retry.
                raise ConnectionError(f"Slack auth.test failed: {exc.response.get('error')}") from exc
            self._identity = AuthorizeResult.from_auth_test_response(
                auth_test_response=found, bot_token=self.client.token
            )
        return self._identity

    async def start(self) -> None:
        """Learn the bot's identity before the first event; if Slack is slow now, the first request asks."""
        try:
            await asyncio.wait_for(self._authorize(), WARM_UP_SECONDS)
        except Exception as exc:  # startup must not depend on Slack being reachable
            log.warning("slack %s: auth.test at start failed (%s); retrying on the first request", self.profile, exc)

    async def stop(self) -> None:
        await self.idle()
        session = getattr(self.client, "session", None)
        if session is not None and not session.closed:
            await session.close()

    def rate_limits(self, item: OutboxItem) -> list[Limit]:
        return self.sender.rate_limits(item)

    async def send(self, item: OutboxItem) -> str | None:
        return await self.sender.send(item)
