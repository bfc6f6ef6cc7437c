"""The OpenAPI paths of the survey programme's report endpoints (bots/api/programme_routes.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NUMBER = {"type": "number", "nullable": True}
VERDICT = {
    "type": "object",
    "description": "this variant minus the control; `significant` is null when either has too little data",
    "properties": {
        "difference": NUMBER,
        "significant": {"type": "boolean", "nullable": True},
        "verdict": {"type": "string", "enum": ["significant", "not significant", "not enough data"]},
    },
}
VARIANT = {
    "type": "object",
    "properties": {
        "variant": {"type": "string"},
        "asked": {"type": "integer"},
        "responses": {"type": "integer"},
        "response_rate": NUMBER,
        "nps": NUMBER,
        "margin": NUMBER,
        "significant": {"type": "boolean", "description": "at least min_responses responses"},
        "versus_control": {
            "type": "object",
            "nullable": True,
            "description": "null for the control itself",
            "properties": {"response_rate": VERDICT, "nps": VERDICT},
        },
    },
}
CONTROL = {
    "name": "control",
    "in": "query",
    "required": False,
    "description": "The variant the others are measured against (default: the first configured, else the first "
    "by name); 404 when no survey got it and the configuration does not list it",
    "schema": {"type": "string", "maxLength": 64, "pattern": "^[^\\u0000]*$"},
}


def paths(
    op: Callable[..., dict[str, Any]], json: Callable[..., dict[str, Any]], query: Callable[..., list[dict[str, Any]]]
) -> dict[str, Any]:
    """`query` builds the shared report filters' parameters (bots/api/openapi.py)."""
    body = {
        "type": "object",
        "properties": {
            "profile": {"type": "string"},
            "campaign": {"type": "string", "nullable": True},
            "kind": {"type": "string", "nullable": True},
            "min_responses": {"type": "integer"},
            "control": {"type": "string", "nullable": True, "description": "null when no survey got a variant"},
            "variants": {"type": "array", "items": VARIANT},
        },
    }
    return {
        "/api/v1/variants": {
            "get": op(
                "One profile's variants experiment (question wordings or send delays), or a campaign's: per variant "
                "the surveys asked, responses, response rate and NPS ± margin; against the control the response "
                "rate difference (two-proportion z-test) and the NPS difference (two-sample test), significant at "
                "95 %, or `not enough data` below `report.min_responses`",
                {"description": "Variants", "content": json(schema=body)},
                parameters=[
                    {**query("profile")[0], "required": True},
                    *query("channel", "agent", "team", "locale", "workspace", "kind", "campaign", "since", "until"),
                    CONTROL,
                ],
            )
        }
    }
