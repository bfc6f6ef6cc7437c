"""The themes bench runs end to end on a small generated table (its timings are read by people, never asserted)."""

from __future__ import annotations

from bench.databases import empty_store
from bench.themes_bench import match_part, report_part


async def test_report_part_generates_in_sql_and_times_every_query() -> None:
    async with empty_store("sqlite", "test") as store:
        results = await report_part(store, 500)  # also checks that every generated response is there
    labels = [label for label, _ in results]
    assert labels[0] == "bare GROUP BY category (surveys)" and len(set(labels)) == len(labels) == 6
    assert all(seconds > 0 for _, seconds in results)


def test_match_part_times_the_matcher_next_to_the_baseline() -> None:
    results = dict(match_part(number=20))
    assert next(iter(results)) == "baseline: NFKC + casefold" and all(us > 0 for us in results.values())
    assert {"theme match, warm", "theme match, cold", "score parser (interpret)"} <= set(results)
