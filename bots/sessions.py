"""Dashboard sessions. Signing in with a token gives the browser a random session id, never the token itself: the
cookie is worth nothing once it expires, is signed out, or its token leaves the configuration, and an admin can
revoke every session at once (`npsbot sessions revoke-all`). The database holds only hashes, so every web
process sees the same sessions."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from aiohttp import web

from bots.auth import SESSION_COOKIE, SESSION_PRINCIPAL, Principal, bearer_token, principal_for_token
from bots.config import Config
from bots.origin import forbidden, forgery_refusal
from core.store import Store
from core.store import sessions as q

LIFETIME = timedelta(hours=8)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often per session
ADMIN_SCOPE = "*"
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{32,64}")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def _scope_text(principal: Principal) -> str:
    return ADMIN_SCOPE if principal.profiles is None else " ".join(sorted(principal.profiles))


def _narrowed(stored: str, current: Principal) -> Principal | None:
    """A session keeps at most the reach it was opened with, and loses what its token lost since."""
    if stored == ADMIN_SCOPE:
        return current
    profiles = frozenset(stored.split())
    if current.profiles is not None:
        profiles &= current.profiles
    return Principal(profiles) if profiles else None


class WebSessions:
    def __init__(
        self, config: Config, store: Store, clock: Callable[[], datetime], lifetime: timedelta = LIFETIME
    ) -> None:
        self.store = store
        self.clock = clock
        self.lifetime = lifetime
        tokens = [*config.admin_tokens, *(t for p in config.profiles.values() for t in p.api_tokens)]
        self._principals: dict[str, Principal] = {}
        for token in tokens:
            principal = principal_for_token(config, token)
            if principal is not None:
                self._principals[digest(token)] = principal

    async def open(self, token: str) -> str | None:
        """A new session for a valid token (its id, for the cookie), or None. Stale sessions are pruned here, so
        the table never outgrows the sign-ins of one lifetime."""
        principal = self._principals.get(digest(token)) if token else None
        if principal is None:
            return None
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        row = q.Session(digest(session_id), digest(token), _scope_text(principal), now, now + self.lifetime, now)
        async with self.store.transaction() as conn:
            await q.prune(conn, now, self._principals.keys())
            await q.add(conn, row)
        return session_id

    async def resolve(self, session_id: str) -> Principal | None:
        """Who a live session speaks for; an expired one, or one whose token is no longer configured, is deleted."""
        if not _SESSION_ID.fullmatch(session_id):
            return None
        key = digest(session_id)
        async with self.store.read() as conn:
            found = await q.find(conn, key)
        if found is None:
            return None
        now = self.clock()
        current = self._principals.get(found.token_hash)
        principal = None if current is None or found.expires_at <= now else _narrowed(found.scope, current)
        if principal is None:
            async with self.store.transaction() as conn:
                await q.remove(conn, key)
        elif now - found.last_seen_at >= TOUCH_EVERY:
            async with self.store.transaction() as conn:
                await q.touch(conn, key, now)
        return principal

    async def close(self, session_id: str) -> None:
        if _SESSION_ID.fullmatch(session_id):
            async with self.store.transaction() as conn:
                await q.remove(conn, digest(session_id))


SESSIONS = web.AppKey("web_sessions", WebSessions)


def set_session_cookie(response: web.StreamResponse, session_id: str, *, secure: bool, lifetime: timedelta) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(lifetime.total_seconds()),
        path="/",
        secure=secure,
        httponly=True,
        samesite="Strict",
    )


def clear_session_cookie(response: web.StreamResponse, *, secure: bool) -> None:
    response.del_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="Strict")


def cookie_is_secure(request: web.Request, public_url: str | None) -> bool:
    """`Secure` when the public URL is https (or the request itself arrived over TLS)."""
    return bool(public_url and public_url.lower().startswith("https://")) or request.secure


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def session_middleware(sessions: WebSessions, public_url: str | None) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Resolve the session cookie of a request without a bearer token. A state-changing request it authenticates
    must come from our own origin (and, on the API, carry JSON), or it is refused with 403 before any handler
    runs."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id and bearer_token(request) is None and not request.path.startswith("/report/static/"):
            principal = await sessions.resolve(session_id)
            if principal is not None:
                refusal = forgery_refusal(request, public_url)
                if refusal is not None:
                    raise forbidden(refusal)
                request[SESSION_PRINCIPAL] = principal
        return await handler(request)

    return middleware


async def revoke_all(database_url: str) -> int:
    """Sign every browser out of the dashboard, in every process (`npsbot sessions revoke-all`)."""
    store = Store(database_url)
    try:
        async with store.transaction() as conn:
            return await q.remove_all(conn)
    finally:
        await store.dispose()
