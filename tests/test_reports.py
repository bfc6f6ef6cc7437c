"""The Customer Feedback Report's figures, on SQLite and PostgreSQL, against hand-computed numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.memory import MemoryChannel
from core import followup
from core.profiles import ProfileSettings
from core.reports import Filters, breakdown, summary
from core.reports.analytics import comments, compare, distribution, followup_stats, significant, trend
from core.service import SurveyService
from core.store import Store
from core.survey import Policy

PROFILES = {
    "acme": ProfileSettings("acme", Policy(brand="Acme", throttle=timedelta(0))),
    "tapas": ProfileSettings("tapas", Policy(brand="Tapas", throttle=timedelta(0))),
}
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


async def answer(
    chat: MemoryChannel, clock, conv: str, score: int | None, comment: str | None = None, agent: str = "ana"
):
    await chat.close(conv, f"u-{conv}", agent=agent)
    if score is not None:
        await chat.tap(conv, f"u-{conv}", score)
        if comment is not None:
            await chat.reply(conv, f"u-{conv}", comment)


@pytest.fixture
async def data(store: Store, clock) -> SurveyService:
    """Week 1 (Mon 2 Mar): 10, 9, 8, 3 + one unanswered; week 2 (Mon 9 Mar): 10, 10, 2; March 31: 0. tapas: 7."""
    clock.now = START
    service = SurveyService(store, PROFILES, clock)
    acme, tapas = MemoryChannel(service, "acme"), MemoryChannel(service, "tapas")
    await answer(acme, clock, "a1", 10, "Great and fast")
    await answer(acme, clock, "a2", 9, None, agent="ben")
    await answer(acme, clock, "a3", 8, "OK but slow", agent="ben")
    await answer(acme, clock, "a4", 3, "Slow, nobody answered")
    await answer(acme, clock, "a5", None)
    clock.now = START + timedelta(days=7, hours=2)
    await answer(acme, clock, "b1", 10, "Perfect")
    await answer(acme, clock, "b2", 10)
    await answer(acme, clock, "b3", 2, "Too SLOW and rude", agent="ben")
    clock.now = datetime(2026, 3, 31, 12, tzinfo=UTC)
    await answer(acme, clock, "c1", 0, "100% useless")
    await answer(tapas, clock, "t1", 7, "fine")
    return service


async def test_summary_distribution_and_breakdown(store: Store, data: SurveyService) -> None:
    acme = Filters(profile="acme")
    s = await summary(store, acme)
    # 4 promoters, 1 passive, 3 detractors of 8 responses; 9 asked
    assert (s.result.promoters, s.result.passives, s.result.detractors, s.asked) == (4, 1, 3, 9)
    assert s.result.nps == pytest.approx(12.5) and s.response_rate == pytest.approx(8 / 9)
    assert await distribution(store, acme) == [1, 0, 1, 1, 0, 0, 0, 0, 1, 1, 3]
    by_agent = dict(await breakdown(store, "agent", acme))
    assert by_agent["ana"].result.nps == pytest.approx(20.0)  # 10,3,10,0 + 10 → 3 promoters, 2 detractors of 5
    assert by_agent["ben"].result.nps == pytest.approx(0.0) and by_agent["ben"].responses == 3  # 9, 8, 2
    assert not significant(by_agent["ben"]) and significant(by_agent["ben"], minimum=3)
    assert dict(await breakdown(store, "profile"))["tapas"].result.passives == 1


async def test_trend_buckets(store: Store, data: SurveyService) -> None:
    weeks = await trend(store, Filters(profile="acme"), "week")
    assert [(p, s.responses, s.asked) for p, s in weeks] == [
        ("2026-03-02", 4, 5),
        ("2026-03-09", 3, 3),
        ("2026-03-30", 1, 1),
    ]
    assert weeks[1][1].result.nps == pytest.approx(33.33, abs=0.01)
    days = await trend(store, Filters(profile="acme"), "day")
    assert [p for p, _ in days] == ["2026-03-02", "2026-03-09", "2026-03-31"]
    months = await trend(store, Filters(), "month")
    assert [(p, s.responses) for p, s in months] == [("2026-03-01", 9)]


async def test_date_filters_and_period_comparison(store: Store, data: SurveyService) -> None:
    week2 = Filters(profile="acme", since=START + timedelta(days=7), until=START + timedelta(days=14))
    assert (await summary(store, week2)).responses == 3
    cmp = await compare(store, Filters(profile="acme"), START + timedelta(days=7), START + timedelta(days=14))
    assert cmp.previous.responses == 4 and cmp.current.responses == 3
    assert cmp.change == pytest.approx(33.33 - 25.0, abs=0.01)
    assert cmp.significant is False


async def test_comments_filter_and_search(store: Store, data: SurveyService) -> None:
    slow = await comments(store, Filters(profile="acme"), search="slow")
    assert [c["comment"] for c in slow] == ["Too SLOW and rude", "Slow, nobody answered", "OK but slow"]
    det = await comments(store, Filters(profile="acme"), category="detractor", search="slow")
    assert [c["score"] for c in det] == [2, 3]
    assert [c["comment"] for c in await comments(store, search="100%")] == ["100% useless"]
    assert await comments(store, search="_") == []
    assert len(await comments(store, limit=2)) == 2


async def test_open_detractors_and_median_time_to_resolve(store: Store, data: SurveyService, clock) -> None:
    assert await followup_stats(store) == {"open": 3, "claimed": 0, "resolved": 0, "median_seconds_to_resolve": None}
    ids = [item["id"] for item in await followup.list_followups(store, None)]
    assert len(ids) == 3
    base = clock.now
    await followup.resolve(store, ids[0], "lea", base + timedelta(hours=1))
    await followup.resolve(store, ids[1], "lea", base + timedelta(hours=3))
    await followup.claim(store, ids[2], "max", base)
    stats = await followup_stats(store)
    assert (stats["open"], stats["claimed"], stats["resolved"]) == (0, 1, 2)
    # ids[0] completed at 2026-03-31 12:00 (resolved 13:00: 1 h); ids[1] completed 2026-03-09 11:00 → 22 days+
    # the median of two values is their mean
    assert stats["median_seconds_to_resolve"] == pytest.approx(
        (3600 + (base + timedelta(hours=3) - datetime(2026, 3, 9, 11, tzinfo=UTC)).total_seconds()) / 2
    )
