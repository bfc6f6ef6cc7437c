"""Headline NPS and breakdowns by one dimension, with response rate and margin of error, counted from the report
rollups (core/reports/rollup_query.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.reports.rollup_counts import day_counts, unasked_keys
from core.reports.scope import DIMENSIONS, Filters
from core.scoring import NpsResult, nps
from core.store import Store

MIN_RESPONSES = 30  # below this an NPS is shown with its count but flagged as not significant


@dataclass(frozen=True, slots=True)
class Summary:
    result: NpsResult
    asked: int

    @property
    def responses(self) -> int:
        return self.result.responses

    @property
    def response_rate(self) -> float | None:
        return None if self.asked == 0 else self.responses / self.asked

    def significant(self, minimum: int = MIN_RESPONSES) -> bool:
        """Too few responses make the interval meaningless; the count is still shown."""
        return self.responses >= minimum

    def as_dict(self, minimum: int = MIN_RESPONSES) -> dict[str, Any]:
        r = self.result
        return {
            "nps": None if r.nps is None else round(r.nps, 2),
            "margin": None if r.margin is None else round(r.margin, 2),
            "margin_reason": r.margin_reason,
            "low": None if r.low is None else round(r.low, 2),
            "high": None if r.high is None else round(r.high, 2),
            "promoters": r.promoters,
            "passives": r.passives,
            "detractors": r.detractors,
            "responses": r.responses,
            "asked": self.asked,
            "response_rate": None if self.response_rate is None else round(self.response_rate, 4),
            "significant": self.significant(minimum),
        }


TALLY = ("promoters", "passives", "detractors", "asked")


def _summary(counts: Mapping[str, int]) -> Summary:
    return Summary(
        nps(counts.get("promoters", 0), counts.get("passives", 0), counts.get("detractors", 0)), counts.get("asked", 0)
    )


async def summary(store: Store, filters: Filters = Filters()) -> Summary:
    async with store.read() as conn:
        got = await day_counts(conn, filters, TALLY)
    return _summary(got.get((), {}))


async def breakdown(store: Store, dimension: str, filters: Filters = Filters()) -> list[tuple[str | None, Summary]]:
    """One row per value of `dimension`, most responses first; with no period, values only never-asked surveys
    carry are listed too (with nothing counted), as a GROUP BY over every survey lists them."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}; choose one of {', '.join(DIMENSIONS)}")
    async with store.read() as conn:
        got = await day_counts(conn, filters, TALLY, by=(dimension,))
        if filters.since is None and filters.until is None:
            for key in await unasked_keys(conn, filters, (dimension,)):
                got.setdefault(key, {})
    out = [(key[0], _summary(counts)) for key, counts in got.items()]
    return sorted(out, key=lambda kv: (-kv[1].responses, str(kv[0])))
