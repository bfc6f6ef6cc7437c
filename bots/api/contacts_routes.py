"""Contact records over /api/v1: `PUT /api/v1/contacts/{channel}/{id}?profile=P` creates or changes one contact and
answers the stored record; `POST /api/v1/contacts/bulk?profile=P` upserts up to MAX_BULK, keeping the good ones and
listing the others by their position. The fields and their rules are core/contacts.py's.

Scope: the profile is always named; a token not scoped to it gets 403, an unknown profile (or a channel the profile
does not have) 404. Erasure and export of a person stay on DELETE / GET of the same path (privacy_routes.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from aiohttp import web
from pydantic import AfterValidator, Field

from bots.auth import Principal, authenticate, require_profile
from bots.runtime import Runtime
from core import contact_batches, jsonbody
from core.contacts import ContactChange, InvalidContact, change
from core.reports.filters import FilterError, QueryParams, storable

MAX_BULK = contact_batches.MAX_BATCH  # contacts in one bulk request: one transaction
_STATUS = {400: web.HTTPBadRequest, 404: web.HTTPNotFound, 409: web.HTTPConflict, 422: web.HTTPUnprocessableEntity}


class ContactParams(QueryParams):
    """`?profile=` names the profile the contact belongs to (required: a contact lives in one profile)."""

    profile: Annotated[str, AfterValidator(storable)] = Field(min_length=1, max_length=64)


def _refuse(status: int, message: str) -> web.HTTPException:
    return _STATUS[status](text=web.json_response({"error": message}).text, content_type="application/json")


async def _json(request: web.Request) -> Any:
    """The body as strict JSON (400 when it is not); one over the server's limit is a 413 before this."""
    try:
        return jsonbody.parse(await request.read())
    except jsonbody.BadJson as exc:
        raise _refuse(400, str(exc)) from None


def contacts_routes(runtime: Runtime) -> list[web.RouteDef]:
    config = runtime.config

    def profile_of(request: web.Request, principal: Principal) -> str:
        try:
            profile = ContactParams.parse(request.query).profile
        except FilterError as exc:
            raise _refuse(422, str(exc)) from None
        require_profile(principal, profile, config)  # 404 unknown, 403 not this token's
        return profile

    def changed(profile: str, channel: Any, user_id: Any, given: Mapping[str, Any]) -> ContactChange:
        """InvalidContact for a value, or for a channel the profile does not have."""
        if isinstance(channel, str) and channel not in config.profiles[profile].channels:
            raise InvalidContact("channel", f"profile {profile!r} has no {channel[:32]!r} channel")
        locales = runtime.profiles[profile].policy.messages.locales()
        return change(profile, channel, user_id, given, locales=locales)

    async def put(request: web.Request) -> web.Response:
        principal = authenticate(request, config)
        profile = profile_of(request, principal)
        channel, user_id = request.match_info["channel"], request.match_info["id"]
        if channel not in config.profiles[profile].channels:
            raise _refuse(404, f"profile {profile!r} has no {channel[:32]!r} channel")
        body = await _json(request)
        if not isinstance(body, dict):
            raise _refuse(422, "body: a JSON object of contact fields")
        try:
            item = changed(profile, channel, user_id, body)
        except InvalidContact as exc:
            raise _refuse(422, str(exc)) from None
        keys, now = runtime.service.suppression, runtime.service.clock()
        done = await contact_batches.save_batch(runtime.store, keys, [item], now)
        if done.suppressed:
            raise _refuse(409, "this person was erased on request and is not stored again")
        stored = await contact_batches.read(runtime.store, profile, channel, user_id)
        assert stored is not None
        return web.json_response(stored.as_dict())

    async def bulk(request: web.Request) -> web.Response:
        principal = authenticate(request, config)
        profile = profile_of(request, principal)
        body = await _json(request)
        items = body.get("contacts") if isinstance(body, dict) else None
        if not isinstance(items, list) or set(body) != {"contacts"}:
            raise _refuse(422, 'body: {"contacts": [...]}, each item a contact with its channel and id')
        if len(items) > MAX_BULK:
            raise _refuse(422, f"contacts: at most {MAX_BULK} in one request")
        good: list[ContactChange] = []
        positions: list[int] = []
        rejected: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            try:
                if not isinstance(item, dict):
                    raise InvalidContact("contact", "a JSON object with channel, id and the fields to set")
                given = {k: v for k, v in item.items() if k not in ("channel", "id")}
                good.append(changed(profile, item.get("channel"), item.get("id"), given))
                positions.append(index)
            except InvalidContact as exc:
                rejected.append({"index": index, "error": str(exc)})
        keys, now = runtime.service.suppression, runtime.service.clock()
        done = await contact_batches.save_batch(runtime.store, keys, good, now)
        suppressed = [positions[i] for i in done.suppressed]
        return web.json_response({"saved": done.saved, "rejected": rejected, "suppressed": suppressed})

    return [
        web.put("/api/v1/contacts/{channel}/{id}", put),
        web.post("/api/v1/contacts/bulk", bulk),
    ]
