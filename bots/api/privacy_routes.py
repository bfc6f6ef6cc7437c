"""Personal data over /api/v1: erase or export one person, read the audit log.

Scope: an admin token reaches every profile (and any profile still holding the person's surveys), or the one named
by `?profile=`; a profile token reaches its own profiles only — another profile's person is simply not found
(404), and naming a profile that is not its own is refused (403)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from bots.api.privacy_models import CHANNEL_WIDTH, USER_WIDTH, AuditParams, ExportParams, PersonParams
from bots.audit_trail import actor_of
from bots.auth import Principal, authenticate, require_profile
from bots.runtime import Runtime
from core import audit, privacy
from core.reports.filters import FilterError

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
Q = TypeVar("Q", bound=BaseModel)
T = TypeVar("T")


def _json_error(cls: type[web.HTTPException], message: str) -> web.HTTPException:
    return cls(text=web.json_response({"error": message}).text, content_type="application/json")


def _query(request: web.Request, model: type[Q]) -> Q:
    try:
        return model.parse(request.query)  # type: ignore[attr-defined]
    except FilterError as exc:
        raise _json_error(web.HTTPBadRequest if exc.malformed else web.HTTPUnprocessableEntity, str(exc)) from None


def _person(request: web.Request) -> tuple[str, str]:
    """The (channel, id) in the path. One that no row could hold (too long, NUL) names nobody: 404."""
    channel, user_id = request.match_info["channel"], request.match_info["id"]
    if not (0 < len(channel) <= CHANNEL_WIDTH and 0 < len(user_id) <= USER_WIDTH) or _UNSTORABLE.search(
        channel + user_id
    ):
        raise _json_error(web.HTTPNotFound, "no such contact")
    return channel, user_id


def scope_for(principal: Principal, profile: str | None, runtime: Runtime) -> privacy.Scope:
    if profile is not None:
        require_profile(principal, profile, runtime.config)  # 404 unknown, 403 not this token's
        return privacy.Scope(frozenset({profile}))
    if principal.profiles is None:
        return privacy.Scope(frozenset(runtime.config.profiles), everywhere=True)
    return privacy.Scope(principal.profiles)


def privacy_routes(runtime: Runtime) -> list[web.RouteDef]:
    async def on_person(
        request: web.Request, principal: Principal, profile: str | None, act: Callable[..., Awaitable[T]], **extra: Any
    ) -> T:
        """Erase or export the person in the path, within what the token reaches; nobody stored there: 404."""
        channel, user_id = _person(request)
        try:
            return await act(
                runtime.store,
                runtime.service.suppression,
                channel=channel,
                user_id=user_id,
                scope=scope_for(principal, profile, runtime),
                actor=actor_of(request, principal),
                now=runtime.service.clock(),
                **extra,
            )
        except privacy.UnknownPerson:
            raise _json_error(web.HTTPNotFound, "no such contact") from None

    async def erase(request: web.Request) -> web.Response:
        principal = authenticate(request, runtime.config)
        params = _query(request, PersonParams)
        done = await on_person(request, principal, params.profile, privacy.erase)
        status = "erased" if done.changed else "already_erased"
        return web.json_response({"status": status, "profiles": list(done.profiles), "rows": done.counts})

    async def export(request: web.Request) -> web.Response:
        principal = authenticate(request, runtime.config)
        params = _query(request, ExportParams)
        if params.unredacted and principal.profiles is not None:
            raise _json_error(web.HTTPForbidden, "only an admin token may export the stored, unredacted text")
        redact = None if params.unredacted else privacy.redactor(runtime.profiles)
        found = await on_person(request, principal, params.profile, privacy.export, redact=redact)
        return web.json_response(found)

    async def audit_log(request: web.Request) -> web.Response:
        principal = authenticate(request, runtime.config)
        if principal.profiles is not None:
            raise _json_error(web.HTTPForbidden, "the audit log is for admin tokens")
        p = _query(request, AuditParams)
        query = audit.AuditQuery(p.action, p.profile, p.since, p.until, p.limit, p.cursor)
        items, cursor = await audit.entries(runtime.store, query)
        return web.json_response({"items": items, "next_cursor": cursor})

    person = "/api/v1/contacts/{channel}/{id}"
    return [
        web.delete(person, erase),
        web.get(person, export),
        web.get(person + "/export", export),
        web.get("/api/v1/audit", audit_log),
    ]
