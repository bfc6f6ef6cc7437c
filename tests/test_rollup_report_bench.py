"""The rollup report bench runs end to end on a small table (its timings are read by people, never asserted): the
report functions and the requests through the service's app."""

from __future__ import annotations

from bench.databases import empty_store
from bench.report_http import REQUESTS
from bench.rollup_report_bench import bench, generate


async def test_bench_times_every_panel_and_request_next_to_the_baseline() -> None:
    async with empty_store("sqlite", "test") as store:
        await generate(store, 3000)
        results = await bench(store, repeat=1)  # also checks the summary counted every asked survey
    labels = [label for label, _ in results]
    assert labels[0] == "bare GROUP BY category" and len(labels) == len(set(labels)) == 18 + len(REQUESTS)
    assert {label for label, _ in REQUESTS} <= set(labels)  # each answered 200 (the requester checks)
    assert {"GET /report/data.json", "weekly theme trend", "skipped by reason"} <= set(labels)
    assert all(seconds > 0 for _, seconds in results)
