"""What every outbound HTTP call shares, whichever adapter makes it: a redirect is never followed (it could carry
a token or a signed body to a host nobody configured), and what a failed call leaves in `last_error` is a status
and a fixed reason, never the text another host answered with (profile tokens read it via /api/v1/dead-letters)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import aiohttp
from yarl import URL

from core.delivery import DeliveryError, PermanentFailure

REDIRECTS = frozenset({301, 302, 303, 307, 308})
ERROR_TEXT_LIMIT = 200


class RedirectRefused(PermanentFailure, aiohttp.ClientError):
    """A 3xx answer. Also an aiohttp ClientError, so an SDK that wraps client errors (aiogram) reports it as its
    own network error, with this text inside."""

    def __init__(self, status: int) -> None:
        super().__init__(f"{status} redirect refused")
        self.status = status


async def _refuse(_session: aiohttp.ClientSession, _ctx: Any, params: aiohttp.TraceRequestRedirectParams) -> None:
    """Runs before aiohttp would follow a redirect; raising here stops it before the next request is made."""
    raise RedirectRefused(params.response.status)


def _refusing_trace() -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()
    trace.on_request_redirect.append(_refuse)
    trace.freeze()
    return trace


REFUSE_REDIRECTS = _refusing_trace()


async def refuse_redirect(request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType) -> aiohttp.ClientResponse:
    """A client middleware: it sees every answer before aiohttp would follow a redirect, and refuses a 3xx there.
    A trace hook does the same, but aiohttp builds its tracing objects and signals for every request it makes."""
    response = await handler(request)
    if response.status in REDIRECTS:
        response.release()
        raise RedirectRefused(response.status)
    return response


def client_session(**kwargs: Any) -> aiohttp.ClientSession:
    """An aiohttp session that raises RedirectRefused instead of following a 3xx, whatever the caller passes as
    `allow_redirects` (slack_sdk takes such a session as `AsyncWebClient(session=...)`)."""
    return aiohttp.ClientSession(middlewares=(refuse_redirect,), **kwargs)


def refuse_redirects(session: aiohttp.ClientSession) -> aiohttp.ClientSession:
    """The same guard on a session an SDK built itself (aiogram's), whose middlewares are fixed once it is made:
    a trace hook, added once through the session's public `trace_configs` list, which aiohttp reads on every
    request."""
    if REFUSE_REDIRECTS not in session.trace_configs:
        session.trace_configs.append(REFUSE_REDIRECTS)
    return session


def request_origin(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of an absolute http(s) URL as aiohttp will read it (yarl), else None."""
    try:
        parsed = URL(url)
    except ValueError:
        return None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return None
    return parsed.scheme, parsed.host, parsed.port


def status_text(status: int) -> str:
    """A status and the phrase HTTP defines for it: never the reason phrase or body the server chose."""
    if status in REDIRECTS:
        return f"{status} redirect refused"
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} {'server error' if status >= 500 else 'unexpected status'}"


async def read_capped(resp: aiohttp.ClientResponse, limit: int = 64 * 1024) -> bytes:
    """At most `limit` bytes of a body we need (an id in a 2xx answer); a receiver can't make us hold more."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await resp.content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def failure_text(exc: BaseException) -> str:
    """What the worker stores of an unexpected send error: our own delivery errors' text (a status and a fixed
    reason) and, for anything else, only class names down the cause chain (plus an OS error's own text), since an
    SDK's message may quote a response body or a URL carrying a token."""
    parts: list[str] = []
    current: BaseException | None = exc
    for _ in range(4):
        if current is None:
            break
        if isinstance(current, DeliveryError):
            parts.append(str(current))
            break
        name = type(current).__name__
        reason = current.strerror if isinstance(current, OSError) and isinstance(current.strerror, str) else None
        parts.append(f"{name} ({reason})" if reason else name)
        current = current.__cause__
    return ": ".join(parts)[:ERROR_TEXT_LIMIT]


class HttpClient:
    """One aiohttp session per channel, opened on start (or first use) and closed on stop; it never follows a
    redirect (adapters.http)."""

    session: aiohttp.ClientSession | None = None
    request_timeout: float = 20.0  # seconds, the session's total timeout: each request ends within it

    async def start(self) -> None:
        if self.session is None:
            self.session = client_session(timeout=aiohttp.ClientTimeout(total=self.request_timeout))

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def http(self) -> aiohttp.ClientSession:
        await self.start()
        assert self.session is not None
        return self.session


def retry_after(resp: aiohttp.ClientResponse) -> float | None:
    value = resp.headers.get("Retry-After", "")
    return float(value) if value.isascii() and value.isdigit() else None
