"""The campaign bench runs end to end on a small database (its timings are read by people, never asserted): the
pass stores exactly the surveys it counts as due, next to the baseline's INSERT … SELECT of every contact."""

from __future__ import annotations

from bench.campaign_bench import bench
from bench.databases import empty_store
from tests.test_campaign_run import expected


async def test_bench_runs_the_pass_next_to_the_baseline() -> None:
    async with empty_store("sqlite", "test") as store:
        results = await bench(store, 2000)  # asserts the stored surveys equal the pass's due and created counts
    (baseline, base_seconds), (label, seconds) = results
    assert baseline == "baseline: INSERT … SELECT of 2200 surveys"  # 2,000 on webhook and 200 also on Telegram
    assert label == f"campaign pass ({expected(2000)['outcomes']['due']} due)"
    assert base_seconds > 0 and seconds > 0
