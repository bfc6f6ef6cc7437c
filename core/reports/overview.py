"""The parts of the operator API's NPS report (GET /api/v1/nps) in one call. They are independent reads, so they
run side by side, each on its own connection from the store's pool (several readers at once on SQLite's WAL too),
and share their rollup reads: the summary, distribution, breakdown and the sampling figure's transactional surveys
add up one read grouped by every dimension."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from core.reports.analytics import Bucket, distribution, trend
from core.reports.delivery import channel_rows, skipped_by_reason
from core.reports.programme import programme
from core.reports.shared_reads import sharing
from core.reports.summary import Filters, Summary, breakdown, summary
from core.reports.themes import theme_figures
from core.store import Store


async def _rows(store: Store, filters: Filters, by: str, minimum: int) -> list[dict[str, Any]]:
    if by == "theme":  # per theme mentioned: its mentions' NPS ± margin, shares and impact
        return [{"key": f.theme, **f.as_dict(minimum)} for f in await theme_figures(store, filters)]
    rows = [{"key": k, **s.as_dict(minimum)} for k, s in await breakdown(store, by, filters)]
    if by == "channel":  # questions delivered, the response rate against them, skipped by reason
        rows = await channel_rows(store, filters, rows)
    return rows


async def _none() -> None:
    return None


async def _programme(store: Store, filters: Filters, benchmark: float | None) -> dict[str, Any]:
    return await programme(store, filters, await summary(store, filters), benchmark)


@dataclass(frozen=True, slots=True)
class Parts:
    total: Summary
    distribution: list[int]
    skipped: dict[str, dict[str, int]]  # skipped_by_reason
    breakdown: list[dict[str, Any]] | None  # rows `by` a dimension or theme, as the API shows them
    trend: list[tuple[str, Summary]] | None
    programme: dict[str, Any]  # the benchmark and the sampling figure (core/reports/programme.py)


async def report_parts(
    store: Store,
    filters: Filters,
    *,
    by: str | None,
    bucket: Bucket | None,
    minimum: int,
    benchmark: float | None = None,
) -> Parts:
    """Summary, score distribution, skipped surveys and the programme's figures (against `benchmark`); a breakdown
    `by` a dimension or theme and a trend per `bucket` when asked for: read concurrently, sharing their rollup
    reads (core/reports/shared_reads.py)."""
    with sharing(filters):
        total, scores, skipped, rows, points, extra = await asyncio.gather(
            summary(store, filters),
            distribution(store, filters),
            skipped_by_reason(store, filters),
            _rows(store, filters, by, minimum) if by is not None else _none(),
            trend(store, filters, bucket) if bucket is not None else _none(),
            _programme(store, filters, benchmark),
        )
    return Parts(total, scores, skipped, rows, points, extra)
