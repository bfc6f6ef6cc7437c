"""The OpenAPI 3 document for /api/v1; request schemas come from the same pydantic models that validate."""

from __future__ import annotations

from functools import cache
from typing import Any

from adapters.memory import TRIAL_EVENTS
from bots.api.contacts_openapi import paths as contacts_paths
from bots.api.contacts_openapi import schemas as contacts_schemas
from bots.api.models import (
    MAX_IDEMPOTENCY_KEY,
    CloseBody,
    FollowUpBody,
    ReopenBody,
    ResponseDetailOut,
    ResponseOut,
    ResponseParams,
    SurveyOut,
)
from bots.api.privacy_openapi import paths as privacy_paths
from bots.api.privacy_openapi import schemas as privacy_schemas
from bots.api.programme_openapi import paths as programme_paths
from bots.api.routing_openapi import paths as routing_paths
from core.reports.filters import FIRST_YEAR, LAST_YEAR

REF = "#/components/schemas/{model}"
NO_NUL = "^[^\\u0000]*$"  # the models refuse NUL in every text field


def _openapi30(schema: Any) -> Any:
    """pydantic writes JSON Schema 2020-12; OpenAPI 3.0 says `nullable` instead of a "null" type. Plain strings
    get the NUL rule spelled out so generated requests and validation agree."""
    if isinstance(schema, list):
        return [_openapi30(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _openapi30(v) for k, v in schema.items()}
    if "const" in out:  # a one-value Literal: OpenAPI 3.0 has no `const`
        out["enum"] = [out.pop("const")]
    options = out.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options and len(options) == 2:
        [other] = [o for o in options if o != {"type": "null"}]
        out = {**other, **{k: v for k, v in out.items() if k != "anyOf"}, "nullable": True}
    if out.get("type") == "string" and not {"format", "enum", "pattern", "const"} & out.keys():
        out["pattern"] = NO_NUL
    return out


def _schema(model: Any) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF)
    schema.pop("$defs", None)
    return _openapi30(schema)


# The report filter parser's reading of dates (core/reports/filters.py), stated where clients look.
DATE = {"type": "string", "format": "date-time", "pattern": "^(19[0-9]{2}|2[0-9]{3})-"}  # years 1900–2999
_WRITTEN = (
    f"ISO 8601; a time without an offset is UTC; the year as written must lie in {FIRST_YEAR}–{LAST_YEAR} "
    "(400 otherwise, as for anything that is not a date)."
)
DATES = {
    "since": "Asked at or after this instant; a bare date (2026-01-31) is that day's start in UTC. " + _WRITTEN,
    "until": "Asked before this instant (exclusive); a bare date (2026-01-31) includes that whole day, i.e. ends "
    "at the next day's start in UTC. " + _WRITTEN,
}


def _query(*names: str) -> list[dict[str, Any]]:
    props = ResponseParams.model_json_schema()["properties"]
    out = []
    for name in names:
        p = dict(props[name])
        p.pop("title", None)
        if name in ("since", "until"):
            out.append({"name": name, "in": "query", "required": False, "description": DATES[name], "schema": DATE})
            continue
        if "anyOf" in p:
            non_null = [s for s in p["anyOf"] if s.get("type") != "null"]
            p = {**non_null[0], **{k: v for k, v in p.items() if k not in ("anyOf", "default")}}
        out.append({"name": name, "in": "query", "required": False, "schema": _openapi30(p)})
    return out


def _json(ref: str | None = None, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"application/json": {"schema": schema if schema is not None else {"$ref": f"#/components/schemas/{ref}"}}}


ERRORS = {
    "400": {
        "description": "Malformed JSON, or a `since` / `until` that is not a date in the supported years",
        "content": _json("Error"),
    },
    "401": {"description": "Missing or invalid bearer token", "content": _json("Error")},
    "403": {
        "description": "The token may not access that profile, or a browser session's request named another origin",
        "content": _json("Error"),
    },
    "404": {"description": "Unknown profile or resource", "content": _json("Error")},
    "413": {"description": "Body over 1 MiB", "content": _json("Error")},
    "422": {"description": "Invalid fields", "content": _json("Error")},
    "429": {
        "description": "Too many failed sign-ins from this address; Retry-After says when to try again",
        "content": _json("Error"),
    },
}
FILTERS = (
    "profile", "channel", "agent", "team", "locale", "workspace", "kind", "campaign", "variant", "since", "until",
)  # fmt: skip


def _op(summary: str, ok: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": {"200": ok, **ERRORS}, **extra}


def _trial_schemas() -> dict[str, Any]:
    """The memory channel's trial events, one schema each; OpenAPI 3.0 has no `const`, so a one-value enum."""

    def named(kind: str, model: Any) -> tuple[str, Any]:
        schema = _schema(model)
        schema["properties"]["type"] = {"type": "string", "enum": [kind]}
        return f"Memory{kind.title()}", schema

    return dict(named(kind, model) for kind, model in TRIAL_EVENTS.items())


def _trial_path() -> dict[str, Any]:
    """`POST /memory/{profile}`: mounted only for profiles whose memory channel has `http: true`."""
    result = {
        "type": "object",
        "properties": {
            "status": {"type": "string"},
            "survey_id": {"type": "integer", "nullable": True},
            "state": {"type": "string", "nullable": True},
        },
    }
    names = [f"Memory{kind.title()}" for kind in TRIAL_EVENTS]
    event = {
        "oneOf": [{"$ref": REF.format(model=n)} for n in names],
        "discriminator": {
            "propertyName": "type",
            "mapping": {k: REF.format(model=n) for k, n in zip(TRIAL_EVENTS, names, strict=True)},
        },
    }
    return {
        "post": _op(
            "Trial endpoint of the in-process memory channel: close a conversation, send a message, tap a score or "
            "reopen, as a chat platform would. Off unless the profile's memory channel has `http: true`; the bearer "
            "token is that channel's `token`. `id` makes a replay harmless (answered `duplicate`).",
            {"description": "What happened", "content": _json(schema=result)},
            security=[{"memoryBearer": []}],
            parameters=[{"name": "profile", "in": "path", "required": True, "schema": {"type": "string"}}],
            requestBody={"required": True, "content": _json(schema=event)},
        )
    }


@cache
def spec() -> dict[str, Any]:
    obj = {"type": "object"}
    survey = {"allOf": [{"$ref": REF.format(model="SurveyOut")}], "nullable": True}
    survey_result = _json(schema={"type": "object", "properties": {"status": {"type": "string"}, "survey": survey}})
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "npsbot operator API",
            "version": "1",
            "description": "Close conversations on any channel, read responses and NPS, work detractor follow-ups.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "memoryBearer": {"type": "http", "scheme": "bearer", "description": "channels.memory.token"},
            },
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
                "CloseBody": _schema(CloseBody),
                "ReopenBody": _schema(ReopenBody),
                "FollowUpBody": _schema(FollowUpBody),
                "SurveyOut": _schema(SurveyOut),
                "ResponseOut": _schema(ResponseOut),
                "ResponseDetailOut": _schema(ResponseDetailOut),
                **_trial_schemas(),
                **privacy_schemas(),
                **contacts_schemas(),
            },
        },
        "paths": {
            "/api/v1/conversations/close": {
                "post": _op(
                    "Close a conversation: the customer is surveyed on its channel",
                    {"description": "What happened", "content": survey_result},
                    parameters=[
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": "A replay answers status `duplicate` with the survey the first call created",
                            "schema": {"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY},
                        }
                    ],
                    requestBody={"required": True, "content": _json("CloseBody")},
                )
            },
            "/api/v1/conversations/reopen": {
                "post": _op(
                    "Reopen a conversation: a survey not yet answered is withdrawn",
                    {"description": "What happened", "content": survey_result},
                    requestBody={"required": True, "content": _json("ReopenBody")},
                )
            },
            "/api/v1/responses": {
                "get": _op(
                    "List responses, newest first",
                    {
                        "description": "A page",
                        "content": _json(
                            schema={
                                "type": "object",
                                "properties": {
                                    "items": {"type": "array", "items": {"$ref": REF.format(model="ResponseOut")}},
                                    "next_cursor": {"type": "integer", "nullable": True},
                                },
                            }
                        ),
                    },
                    parameters=_query(*FILTERS, "state", "category", "limit", "cursor"),
                )
            },
            "/api/v1/responses.csv": {
                "get": _op(
                    "Export responses as CSV",
                    {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
                    parameters=_query(*FILTERS, "state", "category"),
                )
            },
            "/api/v1/responses/{id}": {
                "get": _op(
                    "One response",
                    {"description": "The response", "content": _json("ResponseDetailOut")},
                    parameters=[{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                )
            },
            "/api/v1/nps": {
                "get": _op(
                    "NPS with margin of error and the 0–10 distribution, optionally broken down by one dimension "
                    "and over time (day, week or month). The summary carries `benchmark` ({benchmark, difference, "
                    "significant}) when the report covers one profile that has one (the `profile` filter, or the "
                    "token's only profile); `sampling` says how many closed conversations the sample rate let "
                    "through ({closed, sampled, sampled_out}; null when the filters select relational surveys). "
                    "`compare=kind` adds `comparison`: the transactional and relational summaries, and whether "
                    "their response rates and NPS differ significantly (relational minus transactional)",
                    {"description": "Summary", "content": _json(schema=obj)},
                    parameters=_query(*FILTERS, "by", "compare", "bucket"),
                )
            },
            "/api/v1/themes": {
                "get": _op(
                    "Driver impact per comment theme: mentions, share of each category's comments, NPS ± margin of "
                    "the responses mentioning it, its impact on the overall NPS (overall NPS minus the NPS if its "
                    "mentions scored like the rest) and its trend",
                    {"description": "Themes", "content": _json(schema=obj)},
                    parameters=_query(*FILTERS, "bucket"),
                )
            },
            "/api/v1/themes/discover": {
                "get": _op(
                    "Phrases that recur in one profile's comments that match no theme, ranked by how many comments "
                    "contain them, with examples",
                    {"description": "Phrases", "content": _json(schema=obj)},
                    parameters=[
                        {**_query("profile")[0], "required": True},
                        *_query(*FILTERS[1:]),
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                        },
                        {
                            "name": "sample",
                            "in": "query",
                            "required": False,
                            "description": "How many of the newest unmatched comments to read (default 2000)",
                            "schema": {"type": "integer", "minimum": 10, "maximum": 20000},
                        },
                    ],
                )
            },
            "/api/v1/dead-letters": {
                "get": _op(
                    "Messages given up on",
                    {"description": "Dead letters", "content": _json(schema=obj)},
                    parameters=_query("profile", "limit"),
                )
            },
            "/api/v1/detractors": {
                "get": _op(
                    "Detractor follow-ups",
                    {"description": "Follow-ups", "content": _json(schema=obj)},
                    parameters=_query("profile", "status", "limit"),
                )
            },
            "/api/v1/detractors/{id}/{action}": {
                "post": _op(
                    "Claim or resolve a detractor follow-up",
                    {"description": "The follow-up", "content": _json(schema=obj)},
                    parameters=[
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
                        {
                            "name": "action",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "enum": ["claim", "resolve"]},
                        },
                    ],
                    requestBody={"required": True, "content": _json("FollowUpBody")},
                )
            },
            **contacts_paths(_op, _json, privacy_paths(_op, _json)),
            **routing_paths(_op, _json, _query(*FILTERS)),
            **programme_paths(_op, _json, _query),
            "/memory/{profile}": _trial_path(),
        },
    }
