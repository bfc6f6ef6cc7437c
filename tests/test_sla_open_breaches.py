"""The SLA report's open breaches of one profile in a period are read through the open follow-ups' index by
profile on SQLite (migration 0026), not through every survey of the profile in the period (ix_survey_report)."""

from __future__ import annotations

from typing import Any

import pytest

from core.reports import Filters
from core.reports.followup_query import open_breaches_query
from core.store import Store
from core.store.tables import FOLLOWUP_PROFILE
from tests.test_rollup_reports import at


async def _plan(store: Store, filters: Filters, by: Any) -> str:
    async with store.read() as conn:
        compiled = open_breaches_query(filters, by, at(12)).compile(
            dialect=conn.dialect, compile_kwargs={"render_postcompile": True}
        )
        params = (None,) * len(compiled.positiontup or ())  # the index is named: the values do not matter
        rows = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params)).all()
    return "\n".join(str(row[-1]) for row in rows)


@pytest.mark.parametrize("by", [(), ("team", "agent")])
@pytest.mark.parametrize("filters", [Filters(profile="acme", since=at(-90), until=at(0)),
                                     Filters(profiles=("acme", "tapas"), since=at(-90))])  # fmt: skip
async def test_a_profiles_open_breaches_read_the_index_by_profile(store: Store, filters: Filters, by: Any) -> None:
    if not store.is_sqlite:
        pytest.skip("the index is SQLite's only")
    plan = await _plan(store, filters, by)
    assert f"USING INDEX {FOLLOWUP_PROFILE} (profile=? AND asked_at>?" in plan, plan
    assert "ix_survey_report" not in plan, plan
