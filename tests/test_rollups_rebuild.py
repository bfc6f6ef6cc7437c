"""Existing surveys get filled rollups from the migration that creates them, and `npsbot reports rebuild-rollups`
puts rollups that went wrong back to what the raw rows say, on both backends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, update

from bots.cli import main
from core.store import Store
from core.store.rollup_tables import ReportDayRow, ReportSkipRow
from core.store.tables import SurveyRow
from core.store.theme_tables import ResponseThemeRow
from tests.test_migrations import empty_url  # noqa: F401  (the fixture: a database with no schema)
from tests.test_rollups_agree import direct, rolled

S, T = SurveyRow.__table__, ResponseThemeRow.__table__
T0 = datetime(2026, 3, 1, 23, 10, tzinfo=UTC)


def _survey(i: int, **values: object) -> dict[str, object]:
    base = {
        "id": i, "profile": "acme", "channel": "telegram", "conversation_id": f"c{i}", "user_id": f"u{i}",
        "case_id": f"case{i}", "locale": "en", "state": "completed", "unparsed": [], "extra": {},
        "created_at": T0 + timedelta(hours=i), "kind": "transactional",
    }  # fmt: skip
    return base | values


def _answered(i: int, score: int, category: str, **values: object) -> dict[str, object]:
    asked = T0 + timedelta(hours=i, minutes=1)
    return _survey(i, asked_at=asked, score=score, category=category, completed_at=asked, **values)


ROWS = [
    _answered(1, 9, "promoter", agent="ana", comment="fast and friendly", question_ref="m1"),
    _answered(2, 2, "detractor", agent="ana", team="red", comment="slow", question_status="read"),
    _answered(3, 3, "detractor", workspace="T1", claimed_at=T0 + timedelta(days=1), claimed_by="lead"),
    _survey(4, state="expired", asked_at=T0 + timedelta(hours=4), question_status="failed"),
    _survey(5, state="skipped", skip_reason="throttled"),
    _survey(6, state="skipped"),  # no reason recorded: counted as unknown
    _survey(7, state="pending", kind="relational", campaign="spring", variant="a", due_at=T0 + timedelta(days=3)),
]
THEMES = [
    {"survey_id": 1, "theme": "speed", "profile": "acme", "channel": "telegram", "agent": "ana", "team": None,
     "locale": "en", "category": "promoter", "asked_at": T0 + timedelta(hours=1, minutes=1)},
    {"survey_id": 2, "theme": "speed", "profile": "acme", "channel": "telegram", "agent": "ana", "team": "red",
     "locale": "en", "category": "detractor", "asked_at": T0 + timedelta(hours=2, minutes=1)},
]  # fmt: skip


async def test_the_migration_counts_existing_surveys_and_the_command_rebuilds(empty_url: str) -> None:  # noqa: F811
    store = Store(empty_url)
    try:
        await store.migrate("0015")
        async with store.transaction() as conn:
            for row in ROWS:  # one by one: their columns differ
                await conn.execute(insert(S).values(row))
            await conn.execute(insert(T), THEMES)
        await store.migrate()
        expected = await direct(store)
        assert await rolled(store) == expected
        day = (T0 + timedelta(hours=1)).date()  # the next day in UTC
        assert expected["report_days"][(day, "acme", "telegram", "ana", "", "en", "", "transactional", "", "", "s9")]
        assert sum(n for key, n in expected["report_skips"].items() if key[-2] == "unknown") == 1
        assert len(expected["report_theme_days"]) == 2

        async with store.transaction() as conn:  # rollups gone wrong: a counter off, a row lost
            await conn.execute(update(ReportDayRow.__table__).values(asked=ReportDayRow.__table__.c.asked + 5))
            await conn.execute(ReportSkipRow.__table__.delete())
        assert await rolled(store) != expected
        assert await asyncio.to_thread(main, ["reports", "rebuild-rollups", "--database", empty_url]) == 0
        assert await rolled(store) == expected
    finally:
        await store.dispose()
