"""One slack-bolt AsyncApp per profile, mounted at /slack/{profile}/events for events, interactivity, slash
commands and shortcuts alike. A request goes through bolt once, its listener run before the answer; only one that
fails or outlives INLINE_SECONDS is journaled, answered, and finished (or retried) afterwards. Bolt's authorize picks
the bot of the workspace a request comes from (adapters/slack/workspaces.py); with `oauth`, "Add to Slack" is mounted
too (adapters/slack/install.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.config import NAME, SlackConfig
from adapters.slack.install import Installer
from adapters.slack.installations import SlackStateStore, workspace_key
from adapters.slack.listeners import Context, Listener, register
from adapters.slack.payloads import ValidationError, problems
from adapters.slack.sender import SlackSender
from adapters.slack.workspaces import NotInstalled, Workspaces
from adapters.spec import Channel, ChannelDeps
from core import jsonbody
from core.channel import SendsThrough
from core.inbound_journal import InboundJournal
from core.installations import Installations

log = logging.getLogger(__name__)
WARM_UP_SECONDS = 5.0
# How long a request's listener may run before the answer. Slack gives up after 3 s (and retries an event): past
# this the request is journaled and answered, and its listener finishes afterwards. Half of Slack's wait, so the
# INSERT has the other half even on a busy database, and a busy process does not start journaling most requests.
INLINE_SECONDS = 1.5
SHAPE_ERRORS = (AttributeError, LookupError, TypeError)
MISSHAPEN = "malformed Slack request: not the shape of a Slack payload"
# What bolt reads from the headers (the body's format), plus what tells a retry and its signature apart later.
KEPT_HEADERS = ("content-type", "x-slack-request-timestamp", "x-slack-signature", "x-slack-retry-num",
                "x-slack-retry-reason")  # fmt: skip
WORKSPACE = "npsbot_workspace"  # where authorize leaves, in bolt's context, the workspace that serves the request


@dataclass
class _Pass:
    """One trip through bolt, and what it found. On arrival (the request as Slack sent it, not yet journaled) a payload
    its listener cannot read is noted for a 400 instead of failing; a replay of a journaled request fails on it."""

    arriving: bool
    response: BoltResponse | None = None
    reached: bool = False
    ignored: bool = False  # the listener has nothing to do with it (another emoji, an edit, a bot): not journaled
    invalid: str | None = None  # where the payload is not the shape its listener reads
    error: Exception | None = None
    not_installed: NotInstalled | None = None  # signed by Slack, but from a workspace this app does not serve


_PASS: ContextVar[_Pass | None] = ContextVar("slack_pass", default=None)
ACKED = BoltResponse(status=200, body="")  # what a listener's ack() answers, for a request answered before it ends


def _check_json(raw: bytes, content_type: str) -> None:
    """The JSON bolt is about to parse (the body, or a form's `payload`), read strictly first: nesting deep enough
    to exhaust the stack would otherwise surface as a 500 from inside bolt. Bolt decides what is JSON by looking
    (slack_bolt's parse_body: a body starting with "{" is JSON, one holding "payload" a form), whatever the
    Content-Type says, so this decides the same way."""
    if content_type == "application/json" or raw.startswith(b"{"):
        jsonbody.parse(raw)
    elif b"payload" in raw:
        for payload in urllib.parse.parse_qs(raw.decode("utf-8", "replace")).get("payload", []):
            jsonbody.parse(payload.encode())


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _on_error(error: Exception) -> BoltResponse | None:
    """Bolt answers 500 to anything that raises while it routes; a payload of the wrong shape is the sender's
    fault (400). In a replay Slack already has its answer: the status only tells the journal it failed."""
    if isinstance(error, NotInstalled):
        log.info("slack: refused a request: %s", error)
        return BoltResponse(status=403, body=json.dumps({"error": f"{error}: install it to use it there"}))
    # The exception's text may quote the payload (a customer's message): its kind only above DEBUG.
    log.warning("slack request failed: %s", type(error).__name__)
    log.debug("slack request failed", exc_info=error)
    if isinstance(error, SHAPE_ERRORS):
        return BoltResponse(status=400, body=json.dumps({"error": MISSHAPEN}))
    return None


class SlackChannel(SendsThrough, Channel):
    name = NAME

    def __init__(self, deps: ChannelDeps, config: SlackConfig) -> None:
        if config.oauth is not None and deps.secrets is None:  # check-config refuses it: never a token in the clear
            raise ValueError("Slack OAuth stores tokens encrypted: no token keys are configured")
        self.profile = profile = deps.profile
        # slack_sdk joins base_url and the method name with urljoin, so the base must end with "/".
        kwargs = {"base_url": config.api_base.rstrip("/") + "/"} if config.api_base else {}
        # One aiohttp session that refuses redirects (adapters.http), shared by this client, bolt's and the clients
        # bolt derives per request; without it slack_sdk opens a session per call, and that one follows them.
        session = deps.http_session(timeout=aiohttp.ClientTimeout(total=30))  # slack_sdk's own default timeout
        self.client = AsyncWebClient(token=config.bot_token, session=session, **kwargs)
        # Without a token of its own: each call names its workspace's (or, at oauth.v2.access, the app's) secret.
        self.bare = bare = AsyncWebClient(session=session, **kwargs)
        self.verifier = SignatureVerifier(config.signing_secret)
        self.installs = Installations(deps.store, NAME, profile, deps.clock)
        self.workspaces = Workspaces(profile, config, bare, self.installs, deps.secrets)

        async def authorize(enterprise_id: str | None, team_id: str | None, context: Any) -> AuthorizeResult:
            """Bolt passes arguments by name. An expiring token is refreshed first (on arrival too: a slow refresh only
            means the request is journaled and answered before its listener runs)."""
            current = _PASS.get()
            try:
                served = await self.workspaces.for_request(
                    enterprise_id, team_id, context.is_enterprise_install, refresh=True
                )
            except NotInstalled as exc:
                if current is not None:
                    current.not_installed = exc
                raise
            context[WORKSPACE] = served.workspace
            assert served.identity is not None  # a request is always served with an identity
            return served.identity

        # Slack retries after 3 s without an answer, so the listener runs before the answer only for INLINE_SECONDS
        # (process_before_response: bolt returns once the listener is done); past that, or when it fails, the request
        # is journaled and the answer goes out. `handle` verifies the signature itself, so bolt's check is off (a
        # replay is old).
        # `authorize` serves what the installation recorded (or the configured token's identity, fetched once at
        # start), so no request waits on auth.test; bolt then gives each request a client carrying the token, so
        # its own client holds only the base URL.
        self.app = AsyncApp(
            client=bare,
            signing_secret=config.signing_secret,
            authorize=authorize,
            process_before_response=True,
            request_verification_enabled=False,
            raise_error_for_unhandled_request=False,
        )
        self.app.error(_on_error)
        agents = frozenset(config.agents)
        self.ctx = ctx = Context(
            deps.service,
            profile,
            deps.settings,
            self.client,
            config.close_reaction,
            agents,
            deps.clock,
            workspaces=self.workspaces,
        )
        register(self.app, ctx, self._wrap)
        self.sender = SlackSender(bare, profile, self.workspaces)
        self.installer: Installer | None = None
        if config.oauth is not None and self.workspaces.installs is not None:
            states = SlackStateStore(self.installs, config.oauth.state_expiration_seconds)
            brand = deps.settings.policy.brand
            self.installer = Installer(
                profile, brand, config.oauth, deps.public_url, bare, self.workspaces.installs, states
            )
        self.default_token = config.bot_token is not None
        self.journal = InboundJournal(deps.store, self.name, profile, self._replay, deps.clock, deps.lease)
        self._journal_started = False

    def _wrap(self, read: Callable[[dict[str, Any]], Any]) -> Callable[[Listener], Any]:
        """Bolt calls the returned function (by argument name: body, ack, respond, context). It reads the payload
        with `read` (on arrival noting a payload of the wrong shape, or one with nothing to do) and hands the listener
        what `read` returned, its Web API calls made with the token of the request's workspace."""

        def decorate(listener: Listener) -> Callable[..., Awaitable[None]]:
            async def run(body: dict[str, Any], ack: Any, respond: Any, context: Any) -> None:
                current = _PASS.get()
                if current is not None:
                    current.reached = True
                await ack()
                try:
                    payload = read(body)
                except ValidationError as exc:
                    if current is None or not current.arriving:
                        raise
                    current.invalid = problems(exc)
                    return
                if payload is None:
                    if current is not None:
                        current.ignored = True
                    return
                workspace = context.get(WORKSPACE) or workspace_key(
                    context.enterprise_id, context.team_id, context.is_enterprise_install
                )
                try:
                    with self.ctx.serving(context.client, workspace):
                        await listener(payload, respond)
                except Exception as exc:
                    if current is not None:
                        current.error = exc
                    raise

            run.__name__ = run.__qualname__ = listener.__name__  # bolt names listeners in its logs
            return run

        return decorate

    async def _replay(self, body: str, headers: dict[str, str]) -> str | None:
        """Run a request's listener to the end (on arrival, `handle` has set the _Pass to fill in); None when it
        succeeded or had nothing to do, else why not."""
        current = _PASS.get() or _Pass(arriving=False)
        token = _PASS.set(current)
        try:
            current.response = response = await self.app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))
        finally:
            _PASS.reset(token)
        if current.not_installed is not None:
            if current.arriving:  # answered 403 by the error handler, which logged it
                return None
            # The workspace removed the app since the request was journaled: nothing to do for it.
            log.info(
                "slack %s: dropped a request journaled before its workspace left (%s)",
                self.profile,
                current.not_installed,
            )
            return None
        if current.error is not None:
            return repr(current.error)
        if response.status >= 300:
            return f"bolt answered {response.status} {response.body[:200]}"
        return None

    async def idle(self) -> None:
        """Wait until every acknowledged request has been processed."""
        await self.journal.idle()

    def mount(self, app: web.Application) -> None:
        app.router.add_post(f"/slack/{self.profile}/events", self.handle)
        if self.installer is not None:
            self.installer.mount(app)

    async def handle(self, request: web.Request) -> web.Response:
        """The signature and the 5-minute window are checked before anything parses the body: unsigned input is
        refused (401) unparsed, signed garbage gets 400, not 500. Bolt then routes the request to its listener,
        which reads the payload: one it cannot read gets 400, one it has nothing to do with a bare 200. The rest is
        processed before the answer; if that fails, or is still running after INLINE_SECONDS, the request is
        journaled (committed) before the 200, and finished or retried afterwards, so a 200 always means done or
        durable. What bolt answers by itself (url_verification's challenge, ssl_check) is answered inline."""
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
        body = raw.decode()  # a valid signature implies UTF-8
        headers = {k.lower(): v for k, v in request.headers.items() if k.lower() in KEPT_HEADERS}
        arrived = _Pass(arriving=True)
        token = _PASS.set(arrived)
        try:
            attempt = self.journal.attempt(body, headers)  # the task's context holds `arrived`
        finally:
            _PASS.reset(token)
        await asyncio.wait([attempt], timeout=INLINE_SECONDS)
        if not attempt.done():  # still running: journaled now, and its outcome recorded on the row when it ends
            await self.journal.adopt(body, headers, attempt)
            return await to_aiohttp_response(ACKED)
        try:
            error = attempt.result()
        except ValueError as exc:  # JSON that does not parse
            return _error(400, f"malformed Slack request: {exc}")
        except SHAPE_ERRORS as exc:  # bolt's routing (or its error handler) tripped over the payload
            log.warning("slack %s: unreadable payload (%s)", self.profile, type(exc).__name__)
            return _error(400, MISSHAPEN)
        if arrived.invalid is not None:
            log.warning("slack %s: refused a payload its listener cannot read (%s)", self.profile, arrived.invalid)
            return _error(400, f"{MISSHAPEN} ({arrived.invalid})")
        if error is not None and arrived.reached and not arrived.ignored:  # the listener failed: retried later
            await self.journal.adopt(body, headers, attempt)
            return await to_aiohttp_response(ACKED)
        assert arrived.response is not None  # set once bolt has answered
        return await to_aiohttp_response(arrived.response)

    async def start(self) -> None:
        """Learn the configured bot's identity before the first event, then replay what a crashed process journaled
        but never processed. When Slack can't tell the identity now, the journal is replayed all the same (each
        request asks again) and ConnectionError reports the channel as not started, so start is called again
        later. Installed workspaces need nothing at start: each request reads its own installation."""
        failure: Exception | None = None
        try:
            if self.default_token:
                await asyncio.wait_for(self.workspaces.default_works(), WARM_UP_SECONDS)
        except Exception as exc:  # the inbound side must not wait for Slack to be reachable
            failure = exc
        if not self._journal_started:
            await self.journal.start()
            self._journal_started = True
        if failure is not None:
            why = str(failure).removeprefix("Slack auth.test failed: ") or type(failure).__name__
            if isinstance(failure, TimeoutError):
                why = f"no answer in {WARM_UP_SECONDS:g}s"
            raise ConnectionError(f"auth.test failed: {why}") from failure

    async def stop(self) -> None:
        await self.journal.stop(grace=WARM_UP_SECONDS)
        session = getattr(self.client, "session", None)
        if session is not None and not session.closed:
            await session.close()
