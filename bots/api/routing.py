"""/api/v1/rules/test (which routing rules match a response, and why) and /api/v1/sla (the follow-up SLA report):
authenticated like every API endpoint, and only ever about the profiles the token may see."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bots.api.models import MAX_ID
from bots.api.routes import _error
from bots.auth import authenticate, require_profile
from core.reports.filters import FilterError, ReportFilters
from core.reports.sla import SLA_DIMENSIONS, sla_reports
from core.routing_explain import NotAnswered, explain_response

SlaBy = Literal[SLA_DIMENSIONS]  # type: ignore[valid-type]  # the report's dimensions and who claimed


class RulesTestParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    response: int = Field(ge=1, le=MAX_ID)


class SlaParams(ReportFilters):
    """The report filters, and the dimensions to break the figures down by (team and agent by default)."""

    by: list[SlaBy] = Field(default_factory=lambda: ["team", "agent"])


def routing_routes(runtime: Any) -> list[web.RouteDef]:
    config = runtime.config

    async def rules_test(request: web.Request) -> web.Response:
        principal = authenticate(request, config)
        try:
            params = RulesTestParams.model_validate(dict(request.query))
        except ValidationError:
            raise _error(422, "response: give the id of a response, e.g. ?response=42") from None
        try:
            found = await explain_response(runtime.store, params.response, runtime.profiles, principal.can)
        except NotAnswered as exc:
            raise _error(422, str(exc)) from None
        if found is None:
            raise _error(404, "no such response")
        return web.json_response(found)

    async def sla(request: web.Request) -> web.Response:
        principal = authenticate(request, config)
        query: dict[str, Any] = {k: v for k, v in request.query.items() if k != "by"}
        by = [d.strip() for value in request.query.getall("by", []) for d in value.split(",") if d.strip()]
        try:
            params = SlaParams.parse(query | ({"by": by} if by else {}))
        except FilterError as exc:
            raise _error(400 if exc.malformed else 422, str(exc)) from None
        if params.profile is not None:
            require_profile(principal, params.profile, config)
        scope = None if principal.profiles is None else tuple(sorted(principal.profiles))
        filters, now = params.filters(profiles=scope), runtime.service.clock()
        got = await sla_reports(runtime.store, filters, now, (None, *params.by))  # read once for all of them
        return web.json_response({"summary": got[None][0], "breakdowns": {dim: got[dim] for dim in params.by}})

    return [web.get("/api/v1/rules/test", rules_test), web.get("/api/v1/sla", sla)]
