"""The erasure bench runs end to end on a small database (its timings are read by people, never asserted), and
the person's surveys are found through the ix_survey_person index."""

from __future__ import annotations

from bench.databases import empty_store
from bench.privacy_bench import bench, person, survey_plan


async def test_bench_runs_every_measure_next_to_the_baseline() -> None:
    async with empty_store("sqlite", "test") as store:
        results = await bench(store, 3000)  # each erasure also checks it found the person's surveys
        plan = await survey_plan(store, person(7))
    labels = [label for label, _ in results]
    assert labels[0].startswith("baseline") and len(labels) == len(set(labels)) == 5
    assert all(seconds > 0 for _, seconds in results)
    assert "ix_survey_person" in plan
