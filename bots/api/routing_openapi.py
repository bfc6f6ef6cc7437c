"""The routing endpoints in the OpenAPI document: which rules match a response, and the follow-up SLA report. The
document's own helpers are passed in (`op` builds an operation with the shared error answers, `content` a JSON
body, `filters` the report filters' query parameters), so this module needs nothing from the one that assembles it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bots.api.models import MAX_ID
from core.reports.sla import SLA_DIMENSIONS

OBJECT = {"type": "object"}
SLA_ROW = {
    "type": "object",
    "properties": {
        "key": {"type": "string", "nullable": True},
        **{
            name: {"type": "integer"}
            for name in (
                "detractors",
                "with_sla",
                "claim_breaches",
                "resolve_breaches",
                "escalations",
                "claimed",
                "resolved",
            )
        },
        **{
            f"{measure}_{p}_seconds": {"type": "number", "nullable": True}
            for measure in ("claim", "resolve")
            for p in ("median", "p90")
        },
    },
}


def paths(
    op: Callable[..., dict[str, Any]], content: Callable[..., dict[str, Any]], filters: list[dict[str, Any]]
) -> dict[str, Any]:
    by = {
        "name": "by",
        "in": "query",
        "required": False,
        "description": "Break the figures down by these (repeat it, or comma-separate); team and agent by default",
        "schema": {"type": "array", "items": {"type": "string", "enum": list(SLA_DIMENSIONS)}},
        "style": "form",
        "explode": True,
    }
    response = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    return {
        "/api/v1/rules/test": {
            "get": op(
                "Which of the profile's routing rules match a response and why (each condition's result, in rule "
                "order), and what they would do; a response not answered yet is a 422",
                {"description": "The rules' verdict", "content": content(schema=OBJECT)},
                parameters=[{"name": "response", "in": "query", "required": True, "schema": response}],
            )
        },
        "/api/v1/sla": {
            "get": op(
                "Follow-up SLAs of completed detractors: breaches of claim_within / resolve_within, escalations, "
                "and time from the alert to the claim and to the resolution (median and 90th percentile)",
                {
                    "description": "The summary and one breakdown per dimension",
                    "content": content(
                        schema={
                            "type": "object",
                            "properties": {
                                "summary": SLA_ROW,
                                "breakdowns": {
                                    "type": "object",
                                    "additionalProperties": {"type": "array", "items": SLA_ROW},
                                },
                            },
                        }
                    ),
                },
                parameters=[*filters, by],
            )
        },
    }
