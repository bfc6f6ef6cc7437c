"""What the web process puts in the audit log by itself: every use of a token (or a signed-in session) on a
state-changing API request — which token by a hash prefix, never the token; the method, the route's template,
never the concrete path with its ids; the status — and each time the configuration is loaded."""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable

from aiohttp import web

from bots.auth import SESSION_PRINCIPAL, Principal, bearer_token, principal_for_token
from bots.config import Config
from bots.runtime import Runtime
from bots.sessions import digest
from core import audit
from core.service import UnknownProfile

log = logging.getLogger(__name__)
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def token_actor(token: str) -> str:
    """A token as the audit log names it: the first 12 hex digits of its SHA-256 (the dashboard's session table
    keeps the same hash), enough to tell the configured tokens apart and useless for signing in."""
    return f"token:{digest(token)[:12]}"


def _scope(principal: Principal) -> str:
    return "admin" if principal.profiles is None else ",".join(sorted(principal.profiles))


def actor_of(request: web.Request, principal: Principal) -> str:
    """Who made an authenticated request: its bearer token's hash prefix, or the scope of its browser session."""
    token = bearer_token(request)
    return token_actor(token) if token else f"session:{_scope(principal)}"


def _caller(request: web.Request, config: Config) -> Principal | None:
    """The request's principal, without counting a failure (the handler's own check does that)."""
    token = bearer_token(request)
    if token is None:
        return request.get(SESSION_PRINCIPAL)
    return principal_for_token(config, token)


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(no route)"


def token_use(runtime: Runtime) -> Callable[..., Awaitable[web.StreamResponse]]:
    """A middleware recording each state-changing /api/ request made with a valid token or session, whatever the
    answer: a refused attempt (403, 404) is as telling as a change. Unauthenticated requests are not recorded."""
    config = runtime.config

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method not in STATE_CHANGING or not request.path.startswith("/api/"):
            return await handler(request)
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except UnknownProfile:
            status = 404
            raise
        except json.JSONDecodeError:
            status = 400
            raise
        finally:
            principal = _caller(request, config)
            if principal is not None:
                await _record(runtime, request, principal, status)

    return middleware


async def _record(runtime: Runtime, request: web.Request, principal: Principal, status: int) -> None:
    one = next(iter(principal.profiles)) if principal.profiles is not None and len(principal.profiles) == 1 else None
    details = {"method": request.method, "path": _route(request), "status": status, "scope": _scope(principal)}
    try:
        await audit.record(
            runtime.store,
            actor=actor_of(request, principal),
            action=audit.TOKEN_USE,
            profile=one,
            target=details["path"],
            at=runtime.service.clock(),
            details=details,
        )
    except Exception:  # the answer stands; the operator learns the trail has a gap
        log.exception("recording a token use in the audit log failed (%s %s)", request.method, details["path"])


async def record_config_loaded(runtime: Runtime, role: str, *, reloaded: bool = False) -> None:
    """At start (and on any reload): which profiles and channels this process serves, in which role. No values:
    the configuration holds secrets."""
    config = runtime.config
    for warning in config.privacy.warnings():
        log.warning("%s", warning)
    details = {
        "role": role,
        "process": f"{socket.gethostname()[:40]}:{os.getpid()}",
        "profiles": {name: sorted(p.channels) for name, p in sorted(config.profiles.items())},
    }
    try:
        await audit.record(
            runtime.store,
            actor="npsbot",
            action=audit.CONFIG_RELOADED if reloaded else audit.CONFIG_LOADED,
            profile=None,
            target=None,
            at=runtime.service.clock(),
            details=details,
        )
    except Exception:
        log.exception("recording the configuration load in the audit log failed")
