"""One Telegram bot per profile: holds aiogram's Bot and Dispatcher, mounts the webhook, sends the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from pydantic import ValidationError

from adapters.http import refuse_redirects
from adapters.spec import Channel, ChannelDeps
from adapters.telegram.config import NAME, TelegramConfig
from adapters.telegram.handlers import Context, register_handlers
from adapters.telegram.sender import TelegramSender
from core import jsonbody
from core.channel import SendsThrough
from core.ratelimit import Rate

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
EMPTY_ANSWER = b"{}"  # what aiogram answers when a handler returns no Bot API method


def _refusing_redirects(session: AiohttpSession) -> Any:
    """A request middleware: aiogram builds its aiohttp session lazily (and again after a close), so each call
    makes sure it carries the guard that refuses redirects; the token in the URL path goes nowhere else."""

    async def middleware(make_request: Any, bot: Bot, method: TelegramMethod[Any]) -> Any:
        refuse_redirects(await session.create_session())
        return await make_request(bot, method)

    return middleware


class TelegramChannel(SendsThrough, Channel):
    name = NAME

    def __init__(self, deps: ChannelDeps, config: TelegramConfig) -> None:
        self.profile = profile = deps.profile
        self.config = config
        self.public_url = deps.public_url
        self.bot_id = int(config.token.split(":", 1)[0])
        api = {"api": TelegramAPIServer.from_base(config.api_base)} if config.api_base else {}
        session = AiohttpSession(**api)
        session.middleware(_refusing_redirects(session))
        self.bot = Bot(config.token, session=session)
        self.dispatcher = Dispatcher(disable_fsm=True)  # no conversation state machine: core owns survey state
        ctx = Context(
            service=deps.service,
            profile=profile,
            settings=deps.settings,
            bot_id=self.bot_id,
            agents=frozenset(config.agents),
            support_chat_id=config.support_chat_id,
            topic_customers=dict(config.topic_customers),
            clock=deps.clock,
        )
        register_handlers(self.dispatcher, ctx)
        self.sender = TelegramSender(
            self.bot,
            self.bot_id,
            per_chat=Rate(config.per_chat_per_second),
            per_bot=Rate(config.per_bot_per_second, exact=True),  # configured below Telegram's 30/s already
            per_group=Rate.per_minute(config.per_group_per_minute),
        )
        self._webhook = SimpleRequestHandler(self.dispatcher, self.bot, handle_in_background=False)
        self._polling: asyncio.Task[None] | None = None

    @property
    def path(self) -> str:
        return f"/telegram/{self.profile}"

    def mount(self, app: web.Application) -> None:
        app.router.add_post(self.path, self.handle_webhook)

    async def handle_webhook(self, request: web.Request) -> web.StreamResponse:
        """The secret is checked here, before aiogram sees the body: aiogram accepts anything when none is set."""
        secret = self.config.secret_token or ""
        given = request.headers.get(SECRET_HEADER, "")
        if not secret or not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), secret.encode()):
            return web.json_response({"error": "missing or wrong secret token"}, status=401)
        try:
            body = jsonbody.parse(await request.read())
        except jsonbody.BadJson as exc:
            return web.json_response({"error": str(exc)}, status=400)
        if not isinstance(body, dict) or not isinstance(body.get("update_id"), int):
            return web.json_response({"error": "not a Telegram update (update_id missing)"}, status=400)
        try:
            # Validated from the dict already parsed above: aiogram's own request handler would read and parse
            # the body a second time. `feed_update`, not `feed_webhook_update`: the latter runs the update in a
            # task of its own and answers early after 55 s while it goes on, which would acknowledge an update
            # before it is stored; here the answer always waits for the commit.
            update = Update.model_validate(body, context={"bot": self.bot})
            result = await self.dispatcher.feed_update(self.bot, update)
        except ValidationError as exc:
            return web.json_response({"error": f"malformed update: {exc.error_count()} invalid fields"}, status=400)
        if isinstance(result, TelegramMethod):  # a handler answering in the webhook response: aiogram encodes it
            return web.Response(body=self._webhook._build_response_writer(bot=self.bot, result=result))
        return web.Response(body=EMPTY_ANSWER, content_type="application/json")

    async def start(self) -> None:
        """Registers the webhook, or clears it and starts polling. A refused or unreachable Bot API raises
        ConnectionError naming the call, and calling start again later tries again."""
        try:
            if self.config.mode == "polling" and self._polling is None:
                await self.bot.delete_webhook(drop_pending_updates=False)
                self._polling = asyncio.create_task(
                    self.dispatcher.start_polling(
                        self.bot, handle_signals=False, close_bot_session=False, allowed_updates=ALLOWED_UPDATES
                    )
                )
            elif self.config.mode == "webhook" and self.public_url:
                await self.bot.set_webhook(
                    self.public_url.rstrip("/") + self.path,
                    secret_token=self.config.secret_token,
                    allowed_updates=ALLOWED_UPDATES,
                )
        except TelegramAPIError as exc:
            raise ConnectionError(f"{exc.method.__api_method__} failed: {exc.message}") from exc

    async def stop(self) -> None:
        if self._polling is not None:
            with contextlib.suppress(RuntimeError):
                await self.dispatcher.stop_polling()
            with contextlib.suppress(asyncio.CancelledError):
                await self._polling
            self._polling = None
        await self.bot.session.close()
