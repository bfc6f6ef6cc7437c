"""What every fake platform server shares: an aiohttp app on 127.0.0.1 at a free port, a raw record of every
request it heard, and a switch that makes it answer everything one fixed, unplatform-like way (a redirect, a bare
502 page) so tests can check what the app does when a platform, a bridge or Chatwoot misbehaves. A misbehaving
fake still records each call as usual; only the answer changes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Self

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass(frozen=True)
class Heard:
    """One request as it arrived (the path still percent-encoded), whichever route, if any, it matched. The body
    is in each fake's own record of calls."""

    method: str
    raw_path: str
    headers: dict[str, str]


@dataclass
class Misbehaviour:
    """Answer every request with this instead of the platform's answer."""

    status: int
    body: bytes = b""
    redirect_to: str | None = None  # Location: this base URL + the request's own path
    reason: str | None = None  # the HTTP reason phrase, e.g. text that must never reach a stored error


@dataclass
class LocalServer:
    """Subclasses add their routes in `routes`; tests `await fake.start()` and `await fake.close()`."""

    server: TestServer | None = None
    heard: list[Heard] = field(default_factory=list)
    misbehaviour: Misbehaviour | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def misbehave(
        self, status: int, body: bytes = b"", *, redirect_to: str | None = None, reason: str | None = None
    ) -> None:
        self.misbehaviour = Misbehaviour(status, body, redirect_to, reason)

    @web.middleware
    async def _hear(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.heard.append(Heard(request.method, request.raw_path, dict(request.headers)))
        bad = self.misbehaviour
        if bad is None:
            return await handler(request)
        try:
            await handler(request)  # recorded as usual, answered otherwise
        except web.HTTPException:
            pass
        headers = {"Location": bad.redirect_to + request.raw_path} if bad.redirect_to else {}
        return web.Response(
            status=bad.status, body=bad.body, headers=headers, content_type="application/json", reason=bad.reason
        )

    async def start(self) -> Self:
        app = web.Application(middlewares=[self._hear])
        self.routes(app)
        self.server = TestServer(app, host="127.0.0.1")
        # No access log: a stand-in's request lines carry chat and user ids (npsbot's own server keeps none either).
        await self.server.start_server(access_log=None)
        return self

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    @property
    def base(self) -> str:
        """What a configuration's base URL points at (the Bot API and the Web API fakes add their prefix)."""
        return self.url().rstrip("/")

    def url(self, path: str = "") -> str:
        assert self.server is not None
        return str(self.server.make_url(path))
