"""An operator-set reference NPS (an industry figure) against a measured one: the difference, and whether the
measured interval excludes the reference."""

from __future__ import annotations

from typing import Any

from core.scoring import NpsResult


def versus_benchmark(result: NpsResult, benchmark: float | None) -> dict[str, Any] | None:
    """{benchmark, difference, significant} or None without a benchmark. Significant when the benchmark lies
    outside the 95 % interval (|NPS − benchmark| > margin); None when there is no NPS or no margin to judge by."""
    if benchmark is None:
        return None
    if result.nps is None:
        return {"benchmark": benchmark, "difference": None, "significant": None}
    difference = result.nps - benchmark
    significant = None if result.margin is None else abs(difference) > result.margin
    return {"benchmark": benchmark, "difference": round(difference, 2), "significant": significant}
