"""The latest comments and the open and claimed follow-up lists with a period and a profile, on SQLite and
PostgreSQL: read newest first through their partial indexes (migration 0025), they list the same surveys, in the same
order, as the rows written say they should."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core import followup
from core.reports import Filters
from core.reports.analytics import comments
from core.store import Store
from tests.test_reports import START, insert

NOW = START + timedelta(days=40)


def written() -> list[dict]:
    """Asked at off-midnight times over some three weeks, completed up to two days later (so the order of completion
    is not the order of asking), in two profiles; a comment on two in three, detractors in every follow-up state."""
    rows = []
    for i in range(72):
        asked = START + timedelta(hours=7 * i, minutes=13 * i)
        score = (i * 7) % 11
        row = {"profile": ("acme", "tapas")[i % 2], "asked_at": asked, "score": score}
        row["completed_at"] = asked + timedelta(hours=(i * 5) % 48)
        row["comment"] = f"comment {i}" if i % 3 else None
        claimed = asked + timedelta(days=1) if (i // 2) % 3 in (1, 2) else None
        row |= {"claimed_at": claimed, "claimed_by": "lea" if claimed else None}
        resolved = asked + timedelta(days=2) if (i // 2) % 3 == 2 else None
        row |= {"resolved_at": resolved, "resolved_by": "lea" if resolved else None}
        rows.append(row)
    return rows


PERIODS = [
    (None, None),
    (START + timedelta(days=3, hours=5, minutes=17), START + timedelta(days=9, hours=22, minutes=41)),
    (START + timedelta(days=14, minutes=30), None),
    (None, START + timedelta(days=6, hours=11)),
]
PROFILE_FILTERS = [Filters(), Filters(profile="tapas"), Filters(profiles=("acme",))]


def kept(row: dict, filters: Filters) -> bool:
    if filters.profile is not None and row["profile"] != filters.profile:
        return False
    if filters.profiles is not None and row["profile"] not in filters.profiles:
        return False
    asked = row["asked_at"]
    return (filters.since is None or asked >= filters.since) and (filters.until is None or asked < filters.until)


def status(row: dict) -> str:
    return "resolved" if row["resolved_at"] else "claimed" if row["claimed_at"] else "open"


@pytest.fixture
async def rows(store: Store) -> list[dict]:
    rows = written()
    await insert(store, *rows)
    return rows


@pytest.mark.parametrize("since,until", PERIODS)
@pytest.mark.parametrize("base", PROFILE_FILTERS)
async def test_latest_comments_of_a_period(store: Store, rows: list[dict], base: Filters, since, until) -> None:
    filters = Filters(profile=base.profile, profiles=base.profiles, since=since, until=until)
    # insert() names survey i's user x{i}, and ids follow i
    newest = sorted(
        (i for i, row in enumerate(rows) if row["comment"] and kept(row, filters)),
        key=lambda i: (rows[i]["completed_at"], i),
        reverse=True,
    )
    assert newest, "every combination keeps some comments"
    for limit in (3, 100):
        listed = await comments(store, filters, limit=limit)
        assert [item["user_id"] for item in listed] == [f"x{i}" for i in newest[:limit]]
        assert [item["comment"] for item in listed] == [rows[i]["comment"] for i in newest[:limit]]


@pytest.mark.parametrize("since,until", PERIODS)
@pytest.mark.parametrize("base", PROFILE_FILTERS)
@pytest.mark.parametrize("wanted", ["open", "claimed", "resolved", None])
async def test_follow_ups_of_a_period(
    store: Store, rows: list[dict], base: Filters, since, until, wanted: str | None
) -> None:
    filters = Filters(profile=base.profile, since=since, until=until)
    newest = [
        i
        for i in reversed(range(len(rows)))
        if rows[i]["score"] <= 6
        and kept(rows[i], filters)
        and (base.profiles is None or rows[i]["profile"] in base.profiles)
        and wanted in (None, status(rows[i]))
    ]
    assert newest, "every combination keeps some follow-ups"
    for limit in (2, 100):
        listed = await followup.list_followups(store, base.profiles, wanted, limit, filters, NOW)
        assert [item["user_id"] for item in listed] == [f"x{i}" for i in newest[:limit]]
        assert [item["status"] for item in listed] == [status(rows[i]) for i in newest[:limit]]
