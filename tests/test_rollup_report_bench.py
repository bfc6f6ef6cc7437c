"""The rollup report bench runs end to end on a small table (its timings are read by people, never asserted)."""

from __future__ import annotations

from bench.databases import empty_store
from bench.rollup_report_bench import bench


async def test_bench_times_every_panel_next_to_the_baseline() -> None:
    async with empty_store("sqlite", "test") as store:
        results = await bench(store, 3000, repeat=1)  # also checks the summary counted every asked survey
    labels = [label for label, _ in results]
    assert labels[0] == "bare GROUP BY category" and len(labels) == len(set(labels)) == 14
    assert {"GET /api/v1/nps?by=agent&bucket=week", "weekly theme trend", "skipped by reason"} <= set(labels)
    assert all(seconds > 0 for _, seconds in results)
