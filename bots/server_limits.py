"""What one client may hold of the server: time to send a request's head and its body, and a share of a capped
number of connections. aiohttp bounds none of these (its keep-alive timer only covers a connection idle between
requests), so a client sending its headers or body a byte at a time ("slowloris") could hold a connection for as
long as it liked, and a few hundred such clients would starve every webhook.

Each accepted connection is wrapped in a `GuardedConnection` that hands the bytes to aiohttp's own protocol and
times the phases aiohttp does not: from the connection's first moment (or a keep-alive request's first byte) until
the head is parsed, then from the head until the body has arrived."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger(__name__)
LINGER_SECONDS = 1.0  # after a refusal, how long the client's unread bytes are drained so it sees the answer
REFUSALS_LOGGED_EVERY = 60.0  # seconds: a flood of refusals is one WARNING a minute, with its count


@dataclass(frozen=True)
class Limits:
    header_timeout: float  # seconds to send the request line and headers
    body_timeout: float  # seconds to send the body, once the head is in
    idle_timeout: float  # seconds a keep-alive connection may wait for its next request
    max_connections: int  # open connections at once; more are answered 503 and closed


def raw_response(status: str, error: str, extra: str = "") -> bytes:
    """A whole HTTP/1.1 answer written straight to the socket, for when aiohttp has no request to answer."""
    body = json.dumps({"error": error}).encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"{extra}Connection: close\r\n\r\n"
    )
    return head.encode() + body


HEAD_TOO_SLOW = raw_response("408 Request Timeout", "request headers not received in time")
TOO_MANY = raw_response("503 Service Unavailable", "too many connections", "Retry-After: 1\r\n")


def body_too_slow() -> web.HTTPRequestTimeout:
    return web.HTTPRequestTimeout(
        text=json.dumps({"error": "request body not received in time"}), content_type="application/json"
    )


Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


class Guard:
    """Every guarded connection of one listening socket, and the request handler that tells them a request began."""

    def __init__(self, server: web.Server, limits: Limits) -> None:
        self.server = server
        self.limits = limits
        self.open: dict[RequestHandler, GuardedConnection] = {}
        self.refused = 0  # since the last WARNING about it
        self._refusal_logged = -REFUSALS_LOGGED_EVERY
        self._handler: Handler = server.request_handler
        # aiohttp's protocol calls `request_handler` once a request's head is parsed: the moment the head timer
        # stops and the body timer starts. Set before any connection is made (each protocol copies it).
        server.request_handler = self._handle

    def connection(self) -> GuardedConnection:
        """The protocol factory given to loop.create_server."""
        return GuardedConnection(self)

    def refusing(self) -> None:
        self.refused += 1
        now = time.monotonic()
        if now - self._refusal_logged >= REFUSALS_LOGGED_EVERY:
            log.warning(
                "%d connections open, server.max_connections reached: %d refused with 503",
                len(self.open),
                self.refused,
            )
            self._refusal_logged, self.refused = now, 0

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        conn = self.open.get(request.protocol)
        if conn is None:
            return await self._handler(request)
        conn.request_began(request)
        response: web.StreamResponse | None = None
        try:
            response = await self._handler(request)
            return response
        except web.HTTPException as exc:  # also a response: the 408 itself, when no middleware made it JSON
            response = exc
            raise
        finally:
            if conn.body_late and response is not None:
                response.force_close()  # "Connection: close": the rest of the body will not be read
            conn.request_ended(request)


class GuardedConnection(asyncio.Protocol):
    """aiohttp's protocol for one connection, behind timers for the head and the body, or a 503 when over the cap."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self.inner: RequestHandler | None = None
        self.transport: asyncio.Transport | None = None
        self.busy = False  # a request's head is in and its handler runs
        self.closing = False  # answered here: later bytes are drained, not parsed
        self.body_late = False
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        limits = self.guard.limits
        if len(self.guard.open) >= limits.max_connections:
            self.guard.refusing()
            self._answer_and_close(TOO_MANY)
            return
        self.inner = self.guard.server()
        self.guard.open[self.inner] = self
        self.inner.connection_made(transport)
        self._start_timer(limits.header_timeout, self._head_late)

    def data_received(self, data: bytes) -> None:
        if self.closing or self.inner is None:
            return
        if not self.busy and self._timer is None:  # a keep-alive connection's next request starts
            self._start_timer(self.guard.limits.header_timeout, self._head_late)
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self.closing or self.inner is None:
            return None  # the transport closes itself
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        if self.inner is not None:
            self.guard.open.pop(self.inner, None)
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def request_began(self, request: web.BaseRequest) -> None:
        self._stop_timer()
        self.busy = True
        if not request.content.is_eof():
            self._start_timer(self.guard.limits.body_timeout, lambda: self._body_late(request))

    def request_ended(self, request: web.BaseRequest) -> None:
        self._stop_timer()
        self.busy = False
        if self.body_late:
            # The handler has its 408; aiohttp must neither wait for the rest of the body nor read a next request.
            request.content.feed_eof()
            request.protocol.close()

    def _head_late(self) -> None:
        self._timer = None
        if not self.busy:
            self._answer_and_close(HEAD_TOO_SLOW)

    def _body_late(self, request: web.BaseRequest) -> None:
        self._timer = None
        if request.content.is_eof():
            return
        self.body_late = True
        self.closing = True  # the parser is fed no more: the body is abandoned
        request.content.set_exception(body_too_slow())  # the handler's read raises it: a 408 like any HTTP error

    def _answer_and_close(self, answer: bytes) -> None:
        """Write the answer, end our side, drain what the client still sends (closing with unread bytes would reset
        the connection and lose the answer), and close when it stops or after a short grace."""
        self.closing = True
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(answer)
        if transport.can_write_eof():
            transport.write_eof()
        self._start_timer(LINGER_SECONDS, transport.close)

    def _start_timer(self, seconds: float, callback: Callable[[], object]) -> None:
        self._stop_timer()
        self._timer = asyncio.get_running_loop().call_later(seconds, callback)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


async def listen(runner: web.AppRunner, host: str, port: int, limits: Limits) -> asyncio.Server:
    """Serve `runner`'s application on host:port with `limits`; the caller closes the returned server before
    `runner.cleanup()`."""
    assert runner.server is not None, "runner.setup() first"
    guard = Guard(runner.server, limits)
    return await asyncio.get_running_loop().create_server(guard.connection, host, port, reuse_address=True)
