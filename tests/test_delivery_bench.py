"""The delivery bench runs end to end, tiny, on SQLite (its figures are read by people, never asserted): every
message it queues leaves the outbox through the worker processes, and the sustained run samples the backlog."""

from __future__ import annotations

from bench.delivery_bench import run


async def test_every_run_of_the_delivery_bench_drains_what_it_queued() -> None:
    result = await run("sqlite", ["bare", "flat", "workers", "sustained"], 40, 200, 3.0, 50)
    f = result.figures
    assert {"worker", "bare", "worker_with_delivered", "workers_1", "inbound_per_s"} <= set(f)
    assert all(f[k] > 0 for k in ("worker", "bare", "worker_with_delivered", "workers_1", "accepted"))
    assert result.depth and f["max_depth"] == max(result.depth) and f["final_depth"] == result.depth[-1]
