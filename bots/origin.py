"""Same-origin checks against cross-site request forgery. A browser attaches the dashboard's cookie to a form
another site submits; it also says where the request came from (Origin, or Referer), which that site cannot
forge. Requests carrying a bearer token are not affected: a browser never adds that header on its own."""

from __future__ import annotations

from aiohttp import web
from yarl import URL

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _source(request: web.Request) -> str | None:
    """The origin a browser reports: Origin, or the Referer when Origin is absent."""
    origin = request.headers.get("Origin")
    return origin if origin is not None else request.headers.get("Referer") or None


def _same(source: str, request: web.Request, public_url: str | None) -> bool:
    try:
        came_from = URL(source)
        if not came_from.absolute or came_from.scheme not in ("http", "https"):
            return False  # "null" (a sandboxed or privacy-stripped origin) included
        if public_url:
            own = URL(public_url)
            return (came_from.scheme, came_from.host, came_from.port) == (own.scheme, own.host, own.port)
        # No public URL: the Host the browser addressed. The scheme is not compared, since a TLS-terminating
        # proxy in front of the app makes the browser's https look like http here.
        own = URL.build(scheme=came_from.scheme, authority=request.host)
        return (came_from.host, came_from.port) == (own.host, own.port)
    except (ValueError, TypeError):
        return False


def same_origin(request: web.Request, public_url: str | None) -> bool:
    """True when the request says it comes from this server's own origin: `public_url` when configured, else the
    request's Host. A request that names no origin at all is not same-origin."""
    source = _source(request)
    return source is not None and _same(source, request, public_url)


def foreign_origin(request: web.Request, public_url: str | None) -> bool:
    """True when the request names an origin and it is not ours (a request naming none is not foreign)."""
    source = _source(request)
    return source is not None and not _same(source, request, public_url)


def forgery_refusal(request: web.Request, public_url: str | None) -> str | None:
    """Why a state-changing request authenticated by the session cookie is refused, or None when it may go on."""
    if request.method in SAFE_METHODS:
        return None
    if not same_origin(request, public_url):
        return "cross-origin request refused: Origin (or Referer) must be this server's own origin"
    if request.path.startswith("/api/") and request.content_type != "application/json":
        return "the API takes JSON bodies (Content-Type: application/json) from a browser session"
    return None


def forbidden(reason: str) -> web.HTTPForbidden:
    return web.HTTPForbidden(text=web.json_response({"error": reason}).text, content_type="application/json")
