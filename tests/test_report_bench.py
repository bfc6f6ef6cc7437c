"""The report bench runs end to end on a small table (its timings are read by people, never asserted)."""

from __future__ import annotations

from bench.databases import empty_store
from bench.report_bench import bench


async def test_bench_runs_every_query_next_to_the_baseline() -> None:
    async with empty_store("sqlite", "test") as store:
        results = await bench(store, 500)  # also checks the summary counted every generated response
    labels = [label for label, _ in results]
    assert labels[0] == "bare GROUP BY category" and len(labels) == len(set(labels)) == 7
    assert "detractor follow-up, median to resolve" in labels and all(seconds > 0 for _, seconds in results)
