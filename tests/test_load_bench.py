"""The load bench runs end to end on every scenario (its timings are read by people, never asserted): each reply
is accepted, and each one's comment question is really queued."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bench.load import SCENARIOS, run_scenario
from core.store import Store
from core.store.tables import OutboxRow, SurveyRow

OUT, SUR = OutboxRow.__table__, SurveyRow.__table__


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_every_scenario_runs_and_each_reply_is_processed(tmp_path, scenario: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'load.db'}"
    result = await run_scenario("sqlite", url, scenario, n=40, concurrency=4, warmup=10)
    assert (result.requests, result.errors) == (40, 0)
    assert len(result.latencies) == 40 and all(t > 0 for t in result.latencies) and result.rate > 0
    if scenario == "baseline":
        return
    store = Store(url)
    try:
        async with store.read() as conn:
            scored = (await conn.execute(select(func.count()).where(SUR.c.score == 9))).scalar_one()
            asked = (await conn.execute(select(func.count()).where(OUT.c.kind == "ask_comment"))).scalar_one()
    finally:
        await store.dispose()
    assert scored == asked == 50  # the warm-up and the measured replies, every one a 9 with its comment question
