"""The dashboard's theme discovery: `/report/themes/discover.json`, for the signed-in browser (or a bearer token).
The theme chart and table come with the rest of the page's data (/report/data.json)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp import web
from pydantic import ConfigDict

from bots.api.routes import _error, query_params
from bots.api.themes import DiscoverParams, discover_body, scope
from bots.auth import identify


class PageDiscoverParams(DiscoverParams):
    """The page sends every form field, empty ones meaning "all"; those discovery does not read are ignored."""

    model_config = ConfigDict(extra="ignore")


def discover_route(runtime: Any) -> web.RouteDef:
    config = runtime.config

    async def discovered(request: web.Request) -> web.Response:
        who = identify(request, config)
        if who is None:
            raise web.HTTPUnauthorized(text='{"error": "missing or invalid token"}', content_type="application/json")
        params = query_params(request, PageDiscoverParams)
        profile = params.profile
        visible = who.visible(list(config.profiles))
        if profile is None and len(visible) == 1:
            profile = visible[0]  # a profile's token sees one: no need to pick it
        if profile is None:
            raise _error(422, "profile: pick a profile (phrases are found in one profile's comments)")
        allowed, _ = scope(who, profile, config)
        filters = replace(params.filters(), profile=profile, profiles=allowed)
        body = await discover_body(runtime, filters, params.limit, params.sample)
        return web.json_response({"profile": profile, **body})

    return web.get("/report/themes/discover.json", discovered)
