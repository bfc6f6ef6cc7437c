"""`GET /api/v1/variants`: one profile's variants experiment (or one of its campaigns'), each variant's response
rate and NPS against the control and whether the difference is significant. Authenticated like every API endpoint;
a token sees only its profiles."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import Field

from bots.api.routes import _error, query_params
from bots.auth import authenticate, require_profile
from core.reports.filters import ReportFilters, Text
from core.reports.programme import profile_variants
from core.reports.variants import UnknownVariant


class VariantParams(ReportFilters):
    """The report filters (a profile is required: variants are one profile's experiment) and the variant the
    others are measured against (default: the first configured, else the first by name)."""

    control: Text = Field(None, max_length=64)


def programme_routes(runtime: Any) -> list[web.RouteDef]:
    config = runtime.config

    async def variants(request: web.Request) -> web.Response:
        principal = authenticate(request, config)
        params = query_params(request, VariantParams)
        if params.profile is None:
            raise _error(422, "profile: required (variants are one profile's experiment), e.g. ?profile=acme")
        require_profile(principal, params.profile, config)
        minimum = config.report.min_responses
        settings = runtime.profiles.get(params.profile)
        try:
            found = await profile_variants(
                runtime.store, params.filters(), settings, control=params.control, minimum=minimum
            )
        except UnknownVariant as exc:
            raise _error(404, str(exc)) from None
        return web.json_response(
            {"profile": params.profile, "campaign": params.campaign, "kind": params.kind, "min_responses": minimum}
            | found.as_dict(minimum)
        )

    return [web.get("/api/v1/variants", variants)]
