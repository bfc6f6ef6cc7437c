"""The Customer Feedback Report's figures, on SQLite and PostgreSQL, against hand-computed numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from adapters.memory import MemoryChannel
from core import followup
from core.profiles import ProfileSettings
from core.reports import DIMENSIONS, Filters, breakdown, summary
from core.reports.analytics import (
    comments,
    compare,
    dimension_values,
    distribution,
    followup_stats,
    significant,
    trend,
)
from core.service import SurveyService
from core.store import Store
from core.store.rollup_rebuild import rebuild
from core.store.tables import SurveyRow
from core.survey import Policy

S = SurveyRow.__table__

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


async def insert(store: Store, *rows: dict) -> None:
    """Responses written straight to the table, for figures that need exact timestamps or many rows."""
    base = {"profile": "acme", "channel": "memory", "locale": "en", "reasks": 0, "unparsed": [], "extra": {}}
    values = []
    for i, row in enumerate(rows):
        score = row.get("score")
        category = None if score is None else "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
        asked = row.get("asked_at", START)
        values.append(
            base
            | {
                "conversation_id": f"x{i}",
                "user_id": f"x{i}",
                "case_id": f"x{i}",
                "created_at": asked or START,
                "asked_at": asked,  # a response was asked first: the rollups count it on that day
                "score": score,
                "state": "completed" if score is not None else "asked",
                "category": category,
                "scored_at": asked if score is not None else None,
                "completed_at": asked if score is not None else None,
            }
            | row
        )
    async with store.transaction() as conn:
        await conn.execute(S.insert(), values)
        await rebuild(conn)  # written past the store's write paths, so the report rollups are derived again


def responses(at: datetime, promoters: int, passives: int, detractors: int) -> list[dict]:
    return [
        {"score": s, "asked_at": at} for n, s in ((promoters, 10), (passives, 8), (detractors, 0)) for _ in range(n)
    ]


EDGES = [
    datetime(2025, 12, 31, 23, 30, tzinfo=UTC),  # Wednesday, last evening of the year
    datetime(2026, 1, 1, 0, 0, tzinfo=UTC),  # Thursday: ISO week 1 of 2026 starts Monday 29 Dec 2025
    datetime(2026, 3, 8, 23, 59, 59, tzinfo=UTC),  # Sunday: still the week of Monday 2 March
    datetime(2026, 3, 9, 0, 30, tzinfo=timezone(timedelta(hours=2))),  # 8 March 22:30 UTC, also that week
    datetime(2026, 3, 9, 0, 0, tzinfo=UTC),  # Monday midnight starts a new week
    datetime(2026, 3, 1, 0, 0, tzinfo=UTC),  # Sunday 1 March belongs to the week of Monday 23 February
]


async def test_trend_buckets_agree_on_both_backends_at_the_edges(store: Store) -> None:
    await insert(store, *({"score": 10, "asked_at": at} for at in EDGES))
    weeks = [(p, s.responses) for p, s in await trend(store, Filters(), "week")]
    assert weeks == [("2025-12-29", 2), ("2026-02-23", 1), ("2026-03-02", 2), ("2026-03-09", 1)]
    mondays = sorted({str((at.astimezone(UTC) - timedelta(days=at.astimezone(UTC).weekday())).date()) for at in EDGES})
    assert [p for p, _ in weeks] == mondays  # the ISO convention, as Python counts it
    days = [(p, s.responses) for p, s in await trend(store, Filters(), "day")]
    assert days == [("2025-12-31", 1), ("2026-01-01", 1), ("2026-03-01", 1), ("2026-03-08", 2), ("2026-03-09", 1)]
    months = [(p, s.responses) for p, s in await trend(store, Filters(), "month")]
    assert months == [("2025-12-01", 1), ("2026-01-01", 1), ("2026-03-01", 4)]
    with pytest.raises(ValueError, match="bucket"):
        await trend(store, Filters(), "year")  # type: ignore[arg-type]


async def test_response_rate_counts_only_surveys_that_were_asked(store: Store) -> None:
    await insert(store, *responses(START, 3, 1, 2), {"asked_at": START}, {"asked_at": START}, {"asked_at": None})
    s = await summary(store)
    assert (s.asked, s.responses) == (8, 6) and s.response_rate == pytest.approx(6 / 8)
    assert s.as_dict()["response_rate"] == 0.75 and s.as_dict()["significant"] is False
    assert s.as_dict(minimum=6)["significant"] is True and s.as_dict(minimum=7)["significant"] is False


PREVIOUS = datetime(2026, 1, 1, tzinfo=UTC)
CURRENT = datetime(2026, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("current", "previous", "change", "significant"),  # (promoters, passives, detractors) per period, n ≥ 30
    [
        # NPS 30 (var .5+.2-.09 = .61) vs 0 (var .7): SE = sqrt(.61/100 + .7/100) = 11.45 points; 30 > 1.96·11.45 = 22.4
        ((50, 30, 20), (35, 30, 35), 30.0, True),
        # NPS 30 vs 10 (var .69): SE = sqrt(.0061 + .0069) = 11.40 points; 20 < 22.35
        ((50, 30, 20), (40, 30, 30), 20.0, False),
        # the same mixes with 40 people each: SE = sqrt(.61/40 + .7/40) = 18.1 points; 30 < 1.96·18.1 = 35.5
        ((20, 12, 8), (14, 12, 14), 30.0, False),
        # 40 all-promoters vs 40 all-detractors: no variance at all, a certain change
        ((40, 0, 0), (0, 0, 40), 200.0, True),
    ],
)
async def test_period_change_is_a_two_sample_test(store: Store, current, previous, change, significant) -> None:
    await insert(store, *responses(CURRENT + timedelta(days=3), *current), *responses(PREVIOUS, *previous))
    cmp = await compare(store, Filters(), CURRENT, CURRENT + (CURRENT - PREVIOUS))
    assert (cmp.current.responses, cmp.previous.responses) == (sum(current), sum(previous))
    assert cmp.change == pytest.approx(change)
    assert cmp.significant is significant


async def test_a_change_between_small_periods_is_never_significant(store: Store) -> None:
    await insert(store, *responses(CURRENT, 20, 0, 0), *responses(PREVIOUS, 0, 0, 20))
    until = CURRENT + (CURRENT - PREVIOUS)
    assert (await compare(store, Filters(), CURRENT, until)).significant is False  # 20 < 30 responses each
    assert (await compare(store, Filters(), CURRENT, until, minimum=20)).significant is True
    empty = await compare(store, Filters(), until, until + timedelta(days=31))
    assert empty.significant is None and empty.change is None


async def test_every_dimension_filters_and_breaks_down(store: Store) -> None:
    rows = [
        {"score": 10, "profile": "acme", "channel": "slack", "agent": "ana", "team": "care", "locale": "en"},
        {"score": 9, "profile": "acme", "channel": "telegram", "agent": "ana", "team": "sales", "locale": "es"},
        {"score": 3, "profile": "tapas", "channel": "slack", "agent": "ben", "team": "care", "locale": "es"},
        {"score": 7, "profile": "tapas", "channel": "webhook", "agent": "ben", "team": "care", "locale": "ca"},
    ]
    for row, workspace in zip(rows, ("T0ACME", "E0ORG", "T0ACME", "T0TAPAS"), strict=True):  # Slack team / org ids
        row["workspace"] = workspace
    for row, kind, campaign, variant in zip(
        rows,
        ("transactional", "relational", "relational", "transactional"),
        (None, "q4", "q4", None),
        "abab",
        strict=True,
    ):
        row |= {"kind": kind, "campaign": campaign or "welcome", "variant": variant}
    await insert(store, *rows)
    for dim in DIMENSIONS:
        values = sorted({r[dim] for r in rows})
        assert await dimension_values(store, dim) == sorted(values, key=lambda v: (-sum(r[dim] == v for r in rows), v))
        got = {key: s.responses for key, s in await breakdown(store, dim)}
        assert got == {v: sum(r[dim] == v for r in rows) for v in values}, dim
        for v in values:
            mine = [r["score"] for r in rows if r[dim] == v]
            s = await summary(store, Filters(**{dim: v}))
            assert s.responses == len(mine) and await distribution(store, Filters(**{dim: v})) == [
                mine.count(k) for k in range(11)
            ], (dim, v)
    assert (await summary(store, Filters(profiles=("tapas",)))).result.detractors == 1
    assert (await summary(store, Filters(profile="acme", profiles=("tapas",)))).responses == 0
    with pytest.raises(ValueError, match="dimension"):
        await breakdown(store, "customer_name")


async def test_median_time_to_resolve_odd_count_and_filters(store: Store) -> None:
    await insert(
        store,
        *({"score": 2, "agent": agent, "completed_at": START} for agent in ("ana", "ana", "ben", "ben")),
    )
    ids = [item["id"] for item in await followup.list_followups(store, None)]
    for sid, hours in zip(ids, (1, 5, 30), strict=False):
        await followup.resolve(store, sid, "lea", START + timedelta(hours=hours))
    stats = await followup_stats(store)
    assert (stats["open"], stats["resolved"], stats["median_seconds_to_resolve"]) == (1, 3, 5 * 3600)
    ana = await followup_stats(store, Filters(agent="ana"))  # ids are newest first: ben, ben, ana, ana
    assert (ana["open"], ana["resolved"], ana["median_seconds_to_resolve"]) == (1, 1, 30 * 3600)
    assert [i["status"] for i in await followup.list_followups(store, None, filters=Filters(agent="ana"))] == [
        "resolved",
        "open",
    ]
