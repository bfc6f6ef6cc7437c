"""The SLA report and the follow-up median read from report_followups equal the same figures aggregated directly
over the raw rows, on SQLite and PostgreSQL: the rows of tests/test_rollup_reports.py with claimers, SLA rows
(deadlines met, missed, still running, escalations), every filter and period there (partial first and last days,
one day, open ends), and every dimension to group by. The direct aggregate is the report's earlier SQL, which read
every completed detractor: its figures must not change."""

from __future__ import annotations

from datetime import datetime, timedelta
from statistics import median
from typing import Any

import pytest
from sqlalchemy import Numeric, and_, case, cast, func, insert, or_, select
from sqlalchemy.sql.elements import ColumnElement

from core.reports import Filters, duration_ranks
from core.reports.analytics import followup_stats
from core.reports.followup_query import locate, ranks
from core.reports.sla import PERCENTILES, SLA_DIMENSIONS, sla_report, sla_reports
from core.rollups import FOLLOWUP_BOUNDS
from core.store import Store
from core.store.rollup_rebuild import rebuild
from core.store.sla_tables import FollowUpSlaRow
from core.store.tables import SurveyRow
from tests.test_rollup_reports import FILTERS, at, matched, surveys

S = SurveyRow.__table__
L = FollowUpSlaRow.__table__
NOW = at(12, 15, 30)  # deadlines after it are still running


def slas(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An SLA for most completed detractors: tight or loose deadlines, some escalated."""
    out = []
    for i, r in enumerate(rows, start=1):
        if r["category"] != "detractor" or r["state"] != "completed" or i % 5 == 0:
            continue
        done = r["completed_at"]
        claim = done + timedelta(minutes=(3, 30, 600)[i % 3]) if i % 4 else None
        resolve = done + timedelta(hours=(1, 20)[i % 2]) if i % 3 else None
        out.append({
            "survey_id": i, "profile": r["profile"], "started_at": done, "claim_due_at": claim,
            "resolve_due_at": resolve, "escalate_to": [],
            "claim_escalated_at": claim if claim is not None and i % 2 and r["claimed_at"] is None else None,
            "resolve_escalated_at": resolve if resolve is not None and i % 7 == 1 else None,
        })  # fmt: skip
    return out


# Periods across calendar months (the world spans February to April): whole months read from the monthly rollup,
# the days around them from the daily one, partial first and last days from raw rows.
MONTHS = [Filters(since=a, until=b) for a, b in [
    (at(-20, 9, 17), at(40, 13, 5)), (at(0), at(31)), (at(-28), None), (None, at(31, 0, 1)), (at(-1, 23), at(31)),
]] + [Filters(team="north", since=at(-25, 4), until=at(35))]  # fmt: skip
# a profile and a period: SQLite reads the open follow-ups through the index by profile (migration 0026)
MONTHS += [
    Filters(profile="tapas", since=at(-20, 9, 17), until=at(40, 13, 5)),
    Filters(profiles=("acme",), since=at(-28)),
]


@pytest.fixture
async def world(store: Store) -> list[dict[str, Any]]:
    rows = surveys(600, seed=18)
    for i, r in enumerate(rows):
        r["claimed_by"] = ("lea", "max", "sam")[i % 3] if r["claimed_at"] is not None else None
        shift = timedelta(days=(0, -28, 31)[i % 4 % 3])  # half in March, a quarter each in February and April
        r |= {k: v + shift for k, v in r.items() if isinstance(v, datetime)}
    async with store.transaction() as conn:
        await conn.execute(insert(S), rows)
        await conn.execute(insert(L), slas(rows))
        await rebuild(conn)  # the durations are derived with the rollups
    return rows


# ---- the direct aggregate: the SLA report as it read every completed detractor --------------------------------------


def _seconds(dialect: str, end: ColumnElement[Any]) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.round(cast(func.extract("epoch", end - S.c.completed_at), Numeric), 3)
    return func.round((func.julianday(end) - func.julianday(S.c.completed_at)) * 86400.0, 3)


def _sum(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def direct_sla(store: Store, filters: Filters, now: datetime, by: str | None) -> list[dict[str, Any]]:
    base = [S.c.category == "detractor", S.c.state == "completed", *filters.where()]
    key = None if by is None else S.c[by]
    late = {
        kind: and_(due.is_not(None), or_(done > due, and_(done.is_(None), due <= now)))
        for kind, done, due in (("claim", S.c.claimed_at, L.c.claim_due_at),
                                ("resolve", S.c.resolved_at, L.c.resolve_due_at))
    }  # fmt: skip
    q = select(
        *([key.label("k")] if key is not None else []), func.count().label("detractors"),
        _sum(L.c.survey_id.is_not(None)).label("with_sla"), _sum(late["claim"]).label("claim_breaches"),
        _sum(late["resolve"]).label("resolve_breaches"),
        (_sum(L.c.claim_escalated_at.is_not(None)) + _sum(L.c.resolve_escalated_at.is_not(None))).label("escalations"),
        _sum(S.c.claimed_at.is_not(None)).label("claimed"), _sum(S.c.resolved_at.is_not(None)).label("resolved"),
    ).select_from(S.outerjoin(L, L.c.survey_id == S.c.id)).where(*base)  # fmt: skip
    if key is not None:
        q = q.group_by(key)
    out = []
    async with store.read() as conn:
        counted = (await conn.execute(q)).all()
        durations: dict[str, dict[Any, list[float]]] = {}
        for measure, end in (("claim", S.c.claimed_at), ("resolve", S.c.resolved_at)):
            k = [key.label("k")] if key is not None else []
            seconds = _seconds(store.dialect, end)
            got = (await conn.execute(select(*k, seconds).where(*base, end.is_not(None)).order_by(seconds))).all()
            for row in got:
                durations.setdefault(measure, {}).setdefault(row.k if key is not None else None, []).append(
                    float(row[-1])
                )
    for row in counted:
        group = row.k if key is not None else None
        if key is not None and int(row.detractors) == 0:
            continue
        item: dict[str, Any] = {"key": group} if key is not None else {}
        item |= {n: int(getattr(row, n)) for n in ("detractors", "with_sla", "claim_breaches", "resolve_breaches",
                                                   "escalations", "claimed", "resolved")}  # fmt: skip
        for measure in ("claim", "resolve"):
            values = durations.get(measure, {}).get(group, [])
            for name, tenths in PERCENTILES.items():
                item[f"{measure}_{name}_seconds"] = percentile(values, tenths) if values else None
        out.append(item)
    return sorted(out, key=lambda r: (-r["detractors"], str(r.get("key"))))


def percentile(values: list[float], tenths: int) -> float:
    """PostgreSQL's percentile_cont over sorted values, rounded to the millisecond."""
    position = (len(values) - 1) * tenths
    low, fraction = position // 10, (position % 10) / 10
    high = low + (1 if position % 10 else 0)
    return round(values[low] + (values[high] - values[low]) * fraction, 3)


# ---- the tests ----------------------------------------------------------------------------------------------------


async def test_sla_report_equals_the_direct_aggregate(store: Store, world, monkeypatch) -> None:
    """With buckets ranked whole, and cut into sub-ranges of about two durations each (what a bucket of thousands
    of durations is cut into at scale: counted from either end, or whole when the durations are uneven)."""
    rows = world
    reached = set()
    for f in [*FILTERS, *MONTHS]:
        expected = {by: await direct_sla(store, f, NOW, by) for by in (None, *SLA_DIMENSIONS)}
        for rows_per_part in (duration_ranks.ROWS_PER_PART, 2):
            monkeypatch.setattr(duration_ranks, "ROWS_PER_PART", rows_per_part)
            together = await sla_reports(store, f, NOW, (None, *SLA_DIMENSIONS))  # every grouping read at once
            for by in (None, *SLA_DIMENSIONS):
                assert together[by] == expected[by], (f, by, rows_per_part)
            if rows_per_part == 2:
                continue  # a grouping read alone is cut into sub-ranges by the same code as when read together
            for by in (None, "team", "claimed_by"):  # and alone
                assert await sla_report(store, f, NOW, by) == expected[by], (f, by, rows_per_part)
        reached |= {k for items in expected.values() for item in items for k, v in item.items() if v and k != "key"}
    # The rows reached every figure: breaches decided and still running, escalations, both durations.
    assert {"with_sla", "claim_breaches", "resolve_breaches", "escalations", "claim_p90_seconds",
            "resolve_median_seconds"} <= reached  # fmt: skip
    assert len(matched(rows, Filters())) == 600


async def test_followup_median_of_a_few_resolutions_is_exact(store: Store) -> None:
    """Three resolved detractors (and an unresolved one): the median is the middle one exactly; with a fourth, the
    mean of the middle two."""
    start = at(2, 9)
    base = {"profile": "acme", "channel": "telegram", "locale": "en", "state": "completed", "score": 2,
            "category": "detractor", "reasks": 0, "unparsed": [], "extra": {}, "created_at": start,
            "asked_at": start, "scored_at": start, "completed_at": start}  # fmt: skip
    waits = [None, 600.5, 7200, 95.25]
    ends = [None if w is None else start + timedelta(seconds=w) for w in waits]
    rows = [{**base, "conversation_id": f"c{i}", "user_id": f"u{i}", "case_id": f"c{i}", "resolved_at": end}
            for i, end in enumerate(ends)]  # fmt: skip
    async with store.transaction() as conn:
        await conn.execute(insert(S), rows)
        await rebuild(conn)
    got = await followup_stats(store)
    assert (got["resolved"], got["median_seconds_to_resolve"]) == (3, 600.5)
    extra = {
        **base,
        "conversation_id": "c9",
        "user_id": "u9",
        "case_id": "c9",
        "resolved_at": start + timedelta(days=3),
    }
    async with store.transaction() as conn:
        await conn.execute(insert(S), [extra])
        await rebuild(conn)
    got = await followup_stats(store)
    assert got["median_seconds_to_resolve"] == median([600.5, 7200, 95.25, 3 * 86400.0])
    [total] = await sla_report(store, Filters(), NOW)
    assert (total["resolve_median_seconds"], total["resolved"]) == (3900.25, 4)


def test_a_rank_is_found_in_its_bucket() -> None:
    histogram = [0, 3, 0, 2, 5]
    assert [locate(histogram, k) for k in (1, 3, 4, 5, 6, 10)] == [(1, 1), (1, 3), (3, 1), (3, 2), (4, 1), (4, 5)]
    assert ranks(4, 5) == (2, 3) and ranks(3, 5) == (2, 2) and ranks(11, 9) == (10, 10) and ranks(1, 9) == (1, 1)
    with pytest.raises(ValueError):
        locate(histogram, 11)
    assert len(FOLLOWUP_BOUNDS) == 45 and list(FOLLOWUP_BOUNDS) == sorted(set(FOLLOWUP_BOUNDS))


def test_a_bucket_is_counted_from_its_nearer_ends() -> None:
    """Ranks low and high in a bucket: its bottom and its top are counted, not its middle; ranks near the middle:
    all of it. A rank is placed from the side that holds it, or not at all (the whole bucket is counted then)."""
    assert duration_ranks._sides(100, [0.1, 0.05, 0.9]) == [(None, 23), (77, None)]
    assert duration_ranks._sides(100, [0.4, 0.6]) == [(None, None)]
    assert duration_ranks._sides(100, [0.3]) == [(None, 43)]
    counted = [(0, 3), (1, 2), (5, 4), (9, 1)]  # (sub-range, durations) of a group with 12 in the bucket
    assert duration_ranks._place(counted, (None, 6), 4, 12) == (1, 1)
    assert duration_ranks._place(counted, (None, 2), 6, 12) is None  # beyond what was counted
    top = [(5, 4), (9, 1)]  # only sub-ranges 5 and up counted: the group's ranks 8 to 12
    assert duration_ranks._place(top, (5, None), 12, 12) == (9, 1)
    assert duration_ranks._place(top, (5, None), 10, 12) == (5, 3)
    assert duration_ranks._place(top, (5, None), 7, 12) is None
