"""The report bench runs end to end on a small table (its timings are read by people, never asserted)."""

from __future__ import annotations

from bench.report_bench import bench
from core.store import Store


async def test_bench_runs_every_query_next_to_the_baseline(tmp_path) -> None:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'bench.db'}")
    try:
        results = await bench(store, 500)  # also checks the summary counted every generated response
    finally:
        await store.dispose()
    labels = [label for label, _ in results]
    assert labels[0] == "bare GROUP BY category" and len(labels) == len(set(labels)) == 7
    assert "detractor follow-up, median to resolve" in labels and all(seconds > 0 for _, seconds in results)
