"""Handlers for /api/v1. Every handler authenticates first and only ever sees the profiles its token may see."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bots.api.contacts_routes import contacts_routes
from bots.api.models import MAX_ID, MAX_IDEMPOTENCY_KEY, CloseBody, FollowUpBody, ReopenBody, ResponseParams
from bots.api.openapi import spec
from bots.api.privacy_routes import privacy_routes
from bots.auth import Principal, authenticate, require_profile
from core import followup, jsonbody
from core.last_inbound import HINT as LAST_MESSAGE_HINT
from core.last_inbound import utc
from core.outbound import survey_snapshot
from core.redaction import Redactions
from core.reports import Filters
from core.reports.delivery import total_skipped
from core.reports.filters import FilterError, ReportFilters
from core.reports.kinds import compare_kinds
from core.reports.overview import report_parts
from core.reports.programme import benchmark_of, benchmarks
from core.reports.responses import ResponseQuery, export_csv, get_response, list_responses
from core.store import outbox as ob
from core.types import Address, ConversationClosed, ConversationReopened

RUNTIME_KEY = "runtime"


def _error(status: int, message: str) -> web.HTTPException:
    cls = {400: web.HTTPBadRequest, 404: web.HTTPNotFound, 422: web.HTTPUnprocessableEntity}[status]
    return cls(text=web.json_response({"error": message}).text, content_type="application/json")


def _validation(exc: ValidationError) -> web.HTTPException:
    problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()[:8])
    return _error(422, problems)


async def _body(request: web.Request, model: type[BaseModel]) -> Any:
    try:
        data = jsonbody.parse(await request.read())
    except jsonbody.BadJson as exc:
        raise _error(400, str(exc)) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _validation(exc) from None


P = TypeVar("P", bound=ReportFilters)


def query_params(request: web.Request, model: type[P]) -> P:
    """The query read by the report filter parser: 400 for a date that is not one (or off the supported
    calendar), 422 for any other refused value."""
    try:
        return model.parse(request.query)
    except FilterError as exc:
        raise _error(400 if exc.malformed else 422, str(exc)) from None


def _params(request: web.Request) -> ResponseParams:
    return query_params(request, ResponseParams)


def _scope(principal: Principal, params: ResponseParams, runtime: Any) -> tuple[str, ...] | None:
    if params.profile is not None:
        require_profile(principal, params.profile, runtime.config)
        return (params.profile,)
    return None if principal.profiles is None else tuple(sorted(principal.profiles))


def _filters(params: ResponseParams) -> Filters:
    return params.filters()


def api_routes(runtime: Any) -> list[web.RouteDef]:
    config = runtime.config
    shown = Redactions({name: p.redaction for name, p in runtime.profiles.items()})  # comments as the team sees them

    def auth(request: web.Request) -> Principal:
        return authenticate(request, config)

    def channel_of(principal: Principal, profile: str, channel: str) -> None:
        require_profile(principal, profile, config)
        if channel not in config.profiles[profile].channels:
            raise _error(422, f"profile {profile!r} has no {channel!r} channel")

    async def visible(request: web.Request, principal: Principal, what: str) -> dict[str, Any]:
        """The survey named in the path, or 404 when it doesn't exist or belongs to a profile out of reach."""
        try:
            survey_id = int(request.match_info["id"])
        except ValueError:
            raise _error(404, f"no such {what}") from None
        item = await get_response(runtime.store, survey_id) if 0 < survey_id <= MAX_ID else None
        if item is None or not principal.can(item["profile"]):
            raise _error(404, f"no such {what}")
        return item

    async def close(request: web.Request) -> web.Response:
        principal = auth(request)
        body: CloseBody = await _body(request, CloseBody)
        channel_of(principal, body.profile, body.channel)
        metadata = dict(body.metadata)
        if body.last_customer_message_at is not None:  # Meta's 24-hour window counts from it (core.last_inbound)
            metadata[LAST_MESSAGE_HINT] = utc(body.last_customer_message_at).isoformat()
        event = ConversationClosed(
            Address(body.channel, body.profile, body.conversation_id, body.user_id, body.thread, body.workspace),
            body.agent,
            body.team,
            body.locale,
            body.customer_name,
            body.case_id,
            metadata,
            timezone=body.timezone,
        )
        key = request.headers.get("Idempotency-Key")
        if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
            raise _error(422, f"Idempotency-Key: at most {MAX_IDEMPOTENCY_KEY} characters")
        dedup = f"api:{body.profile}:{key}" if key else None
        out = await runtime.service.handle(event, dedup_key=dedup)
        created = out.survey
        if out.status == "duplicate" and dedup is not None:  # a replay is answered with what the first call made
            created = await runtime.service.created_by(dedup)
        return web.json_response({"status": out.status, "survey": survey_snapshot(created) if created else None})

    async def reopen(request: web.Request) -> web.Response:
        principal = auth(request)
        body: ReopenBody = await _body(request, ReopenBody)
        channel_of(principal, body.profile, body.channel)
        event = ConversationReopened(Address(body.channel, body.profile, body.conversation_id, "", body.thread))
        out = await runtime.service.handle(event)
        return web.json_response({"status": out.status, "survey": survey_snapshot(out.survey) if out.survey else None})

    async def responses(request: web.Request) -> web.Response:
        principal, params = auth(request), _params(request)
        query = ResponseQuery(
            _filters(params), _scope(principal, params, runtime), params.state, params.category, False, params.limit,
            params.cursor,
        )  # fmt: skip
        items, cursor = await list_responses(runtime.store, query)
        return web.json_response({"items": shown.items(items), "next_cursor": cursor})

    async def responses_csv(request: web.Request) -> web.Response:
        principal, params = auth(request), _params(request)
        query = ResponseQuery(_filters(params), _scope(principal, params, runtime), params.state, params.category)
        text = await export_csv(runtime.store, query, shown)
        return web.Response(
            text=text,
            content_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="npsbot-responses.csv"'},
        )

    async def response(request: web.Request) -> web.Response:
        item = await visible(request, auth(request), "response")
        return web.json_response(shown.item(item))

    async def nps(request: web.Request) -> web.Response:
        principal, params = auth(request), _params(request)
        filters = replace(_filters(params), profiles=_scope(principal, params, runtime))
        minimum = config.report.min_responses
        # the benchmark of the one profile the report covers; closed conversations the sample rate let through
        benchmark = benchmark_of(params.profile, principal.visible(list(config.profiles)), benchmarks(runtime.profiles))
        # summary, distribution, skips, breakdown, trend and programme: independent reads, run side by side
        parts = await report_parts(
            runtime.store, filters, by=params.by, bucket=params.bucket, minimum=minimum, benchmark=benchmark
        )
        total, extra = parts.total, parts.programme
        results: dict[str, Any] = {
            "summary": total.as_dict(minimum) | {"benchmark": extra["benchmark"]},
            "distribution": parts.distribution,
            "skipped": total_skipped(parts.skipped),
            "sampling": extra["sampling"],
            "min_responses": minimum,
        }
        if params.compare == "kind":  # transactional against relational, and whether the NPS differs
            kinds = await compare_kinds(runtime.store, filters, minimum)
            results["comparison"] = {"by": "kind", **kinds.as_dict(minimum)}
        if params.by is not None:  # a dimension, or per theme: its mentions' NPS ± margin, shares and impact
            results["by"] = params.by
            results["breakdown"] = parts.breakdown
        if params.bucket is not None:
            results["bucket"] = params.bucket
            results["trend"] = [{"period": p, **s.as_dict(minimum)} for p, s in parts.trend or []]
        return web.json_response(results)

    async def dead_letters(request: web.Request) -> web.Response:
        principal, params = auth(request), _params(request)
        scope = _scope(principal, params, runtime)
        async with runtime.store.read() as conn:
            items = await ob.dead_letters(conn, profiles=scope, limit=params.limit)
        return web.json_response({"items": items})

    async def detractors(request: web.Request) -> web.Response:
        principal, params = auth(request), _params(request)
        items = await followup.list_followups(
            runtime.store, _scope(principal, params, runtime), params.status, params.limit, now=runtime.service.clock()
        )
        return web.json_response({"items": shown.items(items)})

    async def act(request: web.Request) -> web.Response:
        survey_id = (await visible(request, auth(request), "detractor"))["id"]
        body: FollowUpBody = await _body(request, FollowUpBody)
        action = followup.claim if request.match_info["action"] == "claim" else followup.resolve
        try:
            state = await action(runtime.store, survey_id, body.by, runtime.service.clock())
        except followup.NotADetractor:
            raise _error(404, "no such detractor") from None
        return web.json_response(
            {
                "survey_id": survey_id,
                "status": state.status,
                "claimed_by": state.claimed_by,
                "resolved_by": state.resolved_by,
            }
        )

    async def openapi(_request: web.Request) -> web.Response:
        return web.json_response(spec())

    return [
        web.get("/api/v1/openapi.json", openapi),
        web.post("/api/v1/conversations/close", close),
        web.post("/api/v1/conversations/reopen", reopen),
        web.get("/api/v1/responses", responses),
        web.get("/api/v1/responses.csv", responses_csv),
        web.get("/api/v1/responses/{id}", response),
        web.get("/api/v1/nps", nps),
        web.get("/api/v1/dead-letters", dead_letters),
        web.get("/api/v1/detractors", detractors),
        web.post(r"/api/v1/detractors/{id}/{action:claim|resolve}", act),
        *privacy_routes(runtime),
        *contacts_routes(runtime),
    ]
