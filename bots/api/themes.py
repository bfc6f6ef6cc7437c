"""The theme report and theme discovery over HTTP: `GET /api/v1/themes` and `GET /api/v1/themes/discover` (the
dashboard serves the same bodies under /report)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from aiohttp import web
from pydantic import Field

from bots.api.routes import _error, query_params
from bots.auth import Principal, authenticate, require_profile
from core.reports.analytics import Bucket
from core.reports.filters import ReportFilters
from core.reports.shared_reads import sharing
from core.reports.summary import Filters, summary
from core.reports.themes import theme_figures, theme_trend, unmatched_comments
from core.themes.discovery import discover

MAX_SAMPLE = 20_000


class ThemeParams(ReportFilters):
    """The report filters plus the trend's bucket."""

    bucket: Bucket = "week"


class DiscoverParams(ReportFilters):
    """The report filters (a profile is required: discovery reads one profile's comments against its taxonomy), how
    many phrases to return and how many of the newest unmatched comments to read."""

    limit: int = Field(20, ge=1, le=100)
    sample: int = Field(2000, ge=10, le=MAX_SAMPLE)


def taxonomy(config: Any, profiles: list[str]) -> list[str]:
    """The configured theme names of these profiles: shown with 0 mentions rather than left out."""
    return sorted({name for p in profiles for name in config.profiles[p].themes})


async def themes_body(runtime: Any, filters: Filters, profiles: list[str], bucket: Bucket) -> dict[str, Any]:
    """The report's parts read side by side, sharing their reads: the theme counts per day serve both the figures
    and the trend, the totals both the summary and the figures' impact."""
    minimum = runtime.config.report.min_responses
    store = runtime.store
    with sharing(filters, grouped=False):  # nothing broken down by a dimension here
        figures, head, trend = await asyncio.gather(
            theme_figures(store, filters, taxonomy(runtime.config, profiles)),
            summary(store, filters),
            theme_trend(store, filters, bucket),
        )
    return {
        "summary": head.as_dict(minimum),
        "min_responses": minimum,
        "themes": [f.as_dict(minimum) for f in figures],
        "bucket": bucket,
        "trend": trend,
    }


async def discover_body(runtime: Any, filters: Filters, limit: int, sample: int) -> dict[str, Any]:
    rows, total = await unmatched_comments(runtime.store, filters, sample)
    found = await asyncio.to_thread(discover, rows, top=limit)  # text mining: off the event loop
    return {"unmatched_comments": total, "read": len(rows), "phrases": [f.as_dict() for f in found]}


def scope(principal: Principal, profile: str | None, config: Any) -> tuple[tuple[str, ...] | None, list[str]]:
    """The profiles a request may see (None: all) and those it looks at (for the taxonomy)."""
    if profile is not None:
        require_profile(principal, profile, config)
        return (profile,), [profile]
    visible = principal.visible(list(config.profiles))
    return (None if principal.profiles is None else tuple(sorted(principal.profiles))), visible


def theme_routes(runtime: Any) -> list[web.RouteDef]:
    config = runtime.config

    async def themes(request: web.Request) -> web.Response:
        principal = authenticate(request, config)
        params = query_params(request, ThemeParams)
        allowed, looked_at = scope(principal, params.profile, config)
        filters = replace(params.filters(), profiles=allowed)
        return web.json_response(await themes_body(runtime, filters, looked_at, params.bucket))

    async def discovered(request: web.Request) -> web.Response:
        principal = authenticate(request, config)
        params = query_params(request, DiscoverParams)
        if params.profile is None:
            raise _error(422, "profile: required (phrases are found in one profile's comments)")
        allowed, _ = scope(principal, params.profile, config)
        filters = replace(params.filters(), profiles=allowed)
        return web.json_response(await discover_body(runtime, filters, params.limit, params.sample))

    return [web.get("/api/v1/themes", themes), web.get("/api/v1/themes/discover", discovered)]
