"""Meta's Graph webhook for one profile's channel: the GET verification handshake and signed POSTs of batched
entries, answered first (Meta retries an endpoint that is slow or fails) and worked afterwards through core's inbound
journal, so a crash between the answer and the work loses nothing.

A POST is refused unparsed without a valid `X-Hub-Signature-256` (401), refused when it is larger than the cap
(413), not JSON (400) or not an object this channel subscribes to (400). Each entry is then handled on its own: one
that raises is logged (its exception's type, never its text) and the others still run; the request is retried from
the journal until every entry ran without raising, and every message inside is deduplicated by its message id
(`message_key`), so the entries that already ran are no-ops on the retry."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from adapters.spec import ChannelDeps
from core import jsonbody
from core.inbound_journal import InboundJournal

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
MAX_BODY = 1024 * 1024  # Meta batches up to 1000 updates; the server's own max_body_bytes applies as well
MAX_CHALLENGE = 256  # Meta's challenge is a number; anything far longer is not a handshake
STOP_GRACE = 5.0  # seconds running replays get to finish when the channel stops
EntryHandler = Callable[[dict[str, Any]], Awaitable[None]]


def signature_valid(body: bytes, header: str | None, app_secret: str) -> bool:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body keyed by the app secret>`, compared in
    constant time. A missing, malformed or non-ASCII header is simply not valid."""
    if not header or not app_secret or not header.startswith(SIGNATURE_PREFIX):
        return False
    given = header[len(SIGNATURE_PREFIX) :].strip().lower()
    if not given.isascii():
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


def message_key(channel: str, profile: str, mid: str) -> str:
    """The dedup key of one platform message (a WhatsApp wamid, a Messenger / Instagram mid): Meta redelivers a
    batch it got no 200 for, and the journal may replay one, so every message is handled once through this key."""
    return f"{channel}:{profile}:{mid}"


class BadWebhook(ValueError):
    """Why a signed body is refused (400); the text is safe to return to the sender."""


def read_batch(body: bytes, objects: frozenset[str]) -> list[Any]:
    """The entries of a webhook body: a JSON object whose `object` is one of `objects` and whose `entry` is a list.
    The entries themselves are not checked here: a bad one must not cost the others their delivery."""
    try:
        data = jsonbody.parse(body)
    except jsonbody.BadJson as exc:
        raise BadWebhook(str(exc)) from None
    if not isinstance(data, dict):
        raise BadWebhook("a webhook body is a JSON object")
    kind = data.get("object")
    if not isinstance(kind, str) or kind not in objects:
        shown = repr(kind)[:40] if isinstance(kind, str) else "missing"
        raise BadWebhook(f"object {shown} is not one this endpoint subscribes to ({', '.join(sorted(objects))})")
    entries = data.get("entry")
    if not isinstance(entries, list):
        raise BadWebhook("entry must be a list")
    return entries


class GraphWebhook:
    """One profile's webhook path for one channel (`/{channel}/{profile}/webhook`). The channel brings what it does
    with one entry (`handle_entry`), which must be idempotent through `message_key`: an entry may run again after a
    crash or after another entry of its batch failed."""

    def __init__(
        self,
        deps: ChannelDeps,
        *,
        channel: str,
        path: str,
        verify_token: str,
        app_secret: str,
        objects: frozenset[str],
        handle_entry: EntryHandler,
        max_body: int = MAX_BODY,
    ) -> None:
        if not verify_token or not app_secret:
            raise ValueError(f"{channel} {deps.profile}: the webhook needs a verify token and an app secret")
        self.channel = channel
        self.profile = deps.profile
        self.path = path
        self.verify_token = verify_token
        self.app_secret = app_secret
        self.objects = frozenset(objects)
        self.handle_entry = handle_entry
        self.max_body = max_body
        self.journal = InboundJournal(deps.store, channel, deps.profile, self._replay, deps.clock, deps.lease)
        self._started = False

    @property
    def _name(self) -> str:
        return f"{self.channel} {self.profile}"

    def mount(self, app: web.Application) -> None:
        app.router.add_get(self.path, self.verify)
        app.router.add_post(self.path, self.receive)

    async def start(self) -> None:
        """Replay what a crashed process journaled but never worked, then keep sweeping (once per process)."""
        if not self._started:
            self._started = True
            await self.journal.start()

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Let running entries finish for `grace` seconds; the rest goes back to the journal for the next start."""
        await self.journal.stop(grace=grace)

    async def idle(self) -> None:
        """Wait until every answered request has been worked (tests, the demo)."""
        await self.journal.idle()

    async def verify(self, request: web.Request) -> web.Response:
        """Meta's subscription handshake: `hub.mode=subscribe` and the configured `hub.verify_token` are answered
        with `hub.challenge` as plain text; anything else is 403 (400 when only the challenge is missing)."""
        q = request.query
        token = q.get("hub.verify_token", "")
        token_ok = hmac.compare_digest(token.encode("utf-8", "surrogateescape"), self.verify_token.encode())
        if q.get("hub.mode") != "subscribe" or not token_ok:
            log.warning("%s: webhook verification refused (wrong mode or verify token)", self._name)
            return web.json_response({"error": "verification refused"}, status=403)
        challenge = q.get("hub.challenge", "")
        if not challenge or len(challenge) > MAX_CHALLENGE or not challenge.isprintable():
            return web.json_response({"error": "hub.challenge missing or malformed"}, status=400)
        log.info("%s: webhook subscription verified", self._name)
        return web.Response(text=challenge, content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        """Verify, read the batch's outline, journal the raw body and answer 200; the entries run afterwards."""
        if request.content_length is not None and request.content_length > self.max_body:
            return web.json_response({"error": "request body too large"}, status=413)
        body = await request.read()  # over the server's client_max_size: 413
        if len(body) > self.max_body:
            return web.json_response({"error": "request body too large"}, status=413)
        if not signature_valid(body, request.headers.get(SIGNATURE_HEADER), self.app_secret):
            return web.json_response({"error": f"missing or invalid {SIGNATURE_HEADER}"}, status=401)
        try:
            entries = read_batch(body, self.objects)
        except BadWebhook as exc:
            return web.json_response({"error": str(exc)}, status=400)
        if entries:
            await self.journal.accept(body.decode(), {})  # a valid JSON body is UTF-8
        return web.json_response({"status": "received"})

    async def _replay(self, body: str, headers: dict[str, str]) -> str | None:
        """Run every entry of a journaled body; None once all ran, else which failed (types only, no text)."""
        try:
            entries = read_batch(body.encode(), self.objects)
        except BadWebhook as exc:  # it was read before it was journaled; nothing to retry
            log.error("%s: a journaled webhook body no longer reads: %s", self._name, exc)
            return None
        failed: list[str] = []
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                log.warning("%s: webhook entry %d is not an object; skipped", self._name, index)
                continue
            try:
                await self.handle_entry(entry)
            except Exception as exc:  # one entry must not cost the others; the traceback (which may quote a
                # customer's message) only at DEBUG
                failed.append(f"entry {index}: {type(exc).__name__}")
                log.warning("%s: webhook entry %d failed (%s)", self._name, index, type(exc).__name__)
                log.debug("%s: webhook entry %d failed", self._name, index, exc_info=exc)
        if failed:
            return f"{len(failed)} of {len(entries)} entries failed: {', '.join(failed[:10])}"[:500]
        return None
