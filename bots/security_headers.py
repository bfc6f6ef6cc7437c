"""Response headers that make browsers refuse what the app never does: run scripts or styles from elsewhere or
inline, be framed, guess content types, or keep data in caches. Applied as each response is prepared, so error
pages, 404s and static assets get them too."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web, web_response

SERVER_NAME = "npsbot"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; base-uri 'none'; object-src 'none'; form-action 'self'; frame-ancestors 'none'"
)


def security_headers(public_url: str | None) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    https = bool(public_url and public_url.lower().startswith("https://"))

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        h = response.headers
        h["Server"] = SERVER_NAME
        h["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        h["X-Content-Type-Options"] = "nosniff"
        h["X-Frame-Options"] = "DENY"
        # same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on the dashboard's own
        # form posts, which the cross-site forgery check could no longer tell from a foreign one.
        h["Referrer-Policy"] = "same-origin"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        if https:
            h["Strict-Transport-Security"] = "max-age=31536000"
        if "Cache-Control" not in h:  # only the static assets say otherwise
            h["Cache-Control"] = "no-store"

    return on_prepare


def hide_server_version() -> None:
    """aiohttp names itself and its version in `Server` on answers it writes before any application code runs
    (a malformed request line, say), and offers no setting for it (aio-libs/aiohttp#3288)."""
    web_response.SERVER_SOFTWARE = SERVER_NAME  # type: ignore[attr-defined]


def install(app: web.Application, public_url: str | None) -> None:
    hide_server_version()
    app.on_response_prepare.append(security_headers(public_url))
