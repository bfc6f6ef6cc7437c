"""The body of GET /report/data.json: every panel of the dashboard in one answer. Its parts are independent reads, so
they run side by side, each on its own pooled connection, sharing their rollup reads (core/reports/shared_reads.py):
a user waits for the slowest part, not for the sum of them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bots.api.models import DashboardParams
from bots.api.themes import themes_body
from core import followup
from core.redaction import Redactions
from core.reports import DIMENSIONS, Filters, breakdown, summary
from core.reports.analytics import comments, compare, dimension_options, distribution, followup_stats, trend
from core.reports.delivery import channel_rows, skipped_by_reason, total_skipped
from core.reports.programme import benchmark_of, benchmarks, one_profile, profile_variants, programme
from core.reports.shared_reads import sharing
from core.reports.sla import sla_reports


async def _parts(
    parts: dict[str, Callable[[], Awaitable[Any]]], periods: tuple[Filters, ...], concurrently: bool
) -> dict[str, Any]:
    if not concurrently:
        return {name: await part() for name, part in parts.items()}
    with sharing(*periods):
        done = await asyncio.gather(*(part() for part in parts.values()))
    return dict(zip(parts, done, strict=True))


async def dashboard_body(
    runtime: Any,
    f: Filters,
    params: DashboardParams,
    visible: list[str],
    now: datetime,
    *,
    concurrently: bool = True,
) -> dict[str, Any]:
    """The dashboard's figures under `f` for a caller who sees the `visible` profiles, as of `now`; one part after
    the other when not `concurrently` (the same body, read the slow way)."""
    config, store = runtime.config, runtime.store
    shown = Redactions({name: p.redaction for name, p in runtime.profiles.items()})  # comments as the team sees them
    bucket = params.bucket or "week"
    minimum = config.report.min_responses
    until = f.until or now
    since = f.since or (until - timedelta(days=30))
    shown_profile = one_profile(params.profile, visible)
    benchmark = benchmark_of(params.profile, visible, benchmarks(runtime.profiles))

    async def breakdowns() -> dict[str, list[dict[str, Any]]]:
        async def rows(dim: str) -> list[dict[str, Any]]:
            found = [{"key": k, **s.as_dict(minimum)} for k, s in await breakdown(store, dim, f)]
            # The channel table says whether questions arrived: delivered, the response rate against them, skipped.
            return await channel_rows(store, f, found) if dim == "channel" else found

        return dict(zip(DIMENSIONS, [await rows(dim) for dim in DIMENSIONS], strict=True))

    async def follow_up() -> dict[str, Any]:
        listed = [
            await followup.list_followups(store, f.profiles, status, 25, f, now) for status in ("open", "claimed")
        ]
        return await followup_stats(store, f) | {"items": shown.items([*listed[0], *listed[1]])}

    async def programme_part() -> dict[str, Any]:  # the benchmark against the summary; sampling
        return await programme(store, f, await summary(store, f), benchmark)

    async def variants() -> dict[str, Any] | None:  # of the one profile shown (chosen, or the caller's only one)
        if shown_profile is None:
            return None
        found = await profile_variants(
            store, replace(f, profile=shown_profile), runtime.profiles.get(shown_profile), minimum=minimum
        )
        return {"profile": shown_profile, **found.as_dict(minimum)}

    got = await _parts(
        {
            "summary": lambda: summary(store, f),
            "comparison": lambda: compare(store, replace(f, since=None, until=None), since, until, minimum),
            "options": lambda: dimension_options(
                store, [dim for dim in DIMENSIONS if dim != "profile"], Filters(profiles=f.profiles)
            ),
            "distribution": lambda: distribution(store, f),
            "trend": lambda: trend(store, f, bucket),
            "breakdowns": breakdowns,
            "comments": lambda: comments(
                store, f, category=params.category, search=params.search, theme=params.theme, limit=50
            ),
            "themes": lambda: themes_body(runtime, f, [params.profile] if params.profile else visible, bucket),
            "follow_up": follow_up,
            "skipped": lambda: skipped_by_reason(store, f),
            "sla": lambda: sla_reports(store, f, now, (None, "team", "agent")),  # one read for the three
            "programme": programme_part,
            "variants": variants,
        },
        (f, Filters(profiles=f.profiles)),  # the period shown, and all time (the filter options)
        concurrently,
    )
    cmp = got["comparison"]
    body: dict[str, Any] = {
        "profiles": visible,
        "options": got["options"],
        "summary": got["summary"].as_dict(minimum) | {"benchmark": got["programme"]["benchmark"]},
        "distribution": got["distribution"],
        "trend": [{"period": p, **s.as_dict(minimum)} for p, s in got["trend"]],
        "breakdowns": got["breakdowns"],
        "comparison": {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "current": cmp.current.as_dict(minimum),
            "previous": cmp.previous.as_dict(minimum),
            "change": None if cmp.change is None else round(cmp.change, 2),
            "significant": cmp.significant,
        },
        "comments": shown.items(got["comments"]),
        "themes": got["themes"],
        "follow_up": got["follow_up"],
        "min_responses": minimum,
        "skipped": total_skipped(got["skipped"]),
        "sla": {by or "all": rows for by, rows in got["sla"].items()},
        "sampling": got["programme"]["sampling"],
        "variants": got["variants"],
    }
    return body
