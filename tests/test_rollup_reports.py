"""Reports read from the rollups equal the same figures aggregated directly over the raw rows, on SQLite and
PostgreSQL: random surveys (every state, NULL dimensions, skips before and after asking, delivery statuses,
follow-ups, comments and their themes), every public report function, every filter and dimension, day / week /
month buckets, and periods that start or end inside a UTC day, on one day, or are open on one side. The counts are
read folded into the rollups, and split between the rollups and their change logs as if not folded yet."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from statistics import median
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.reports import DIMENSIONS, Filters, breakdown, summary
from core.reports.analytics import compare, dimension_options, dimension_values, distribution, followup_stats, trend
from core.reports.delivery import ChannelDelivery, delivery_by_channel, skipped_by_reason
from core.reports.overview import report_parts
from core.reports.summary import Summary
from core.reports.themes import ThemeFigures, theme_figures, theme_trend
from core.scoring import nps
from core.store import Store, rollups
from core.store.rollup_rebuild import rebuild
from core.store.tables import SurveyRow
from core.store.theme_tables import ResponseThemeRow

S = SurveyRow.__table__
T = ResponseThemeRow.__table__
START = datetime(2026, 3, 1, tzinfo=UTC)
THEMES = ("billing", "wait", "staff")
VALUES: dict[str, tuple[str | None, ...]] = {
    "profile": ("acme", "tapas"),
    "channel": ("telegram", "slack", "whatsapp"),
    "agent": ("ana", "ben", None),
    "team": ("north", None),
    "locale": ("en", "es"),
    "workspace": ("T1", None),
    "kind": ("transactional", "relational"),
    "campaign": ("spring", None),
    "variant": ("a", "b", None),
}


def category(score: int | None) -> str | None:
    return None if score is None else "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def surveys(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        created = START + timedelta(seconds=rng.randrange(20 * 86400))
        state = rng.choice(["completed"] * 6 + ["expired", "skipped", "skipped", "pending", "asked", "scored"])
        asked = created + timedelta(seconds=rng.randrange(7200))
        if state == "pending" or (state == "skipped" and rng.random() < 0.7):
            asked = None  # most skips happen before asking; a reopened conversation skips an asked one
        score = rng.randrange(11) if state in ("completed", "scored") else None
        done = asked + timedelta(minutes=rng.randrange(1, 600)) if state == "completed" else None
        detractor = category(score) == "detractor" and state == "completed"
        claimed = done + timedelta(minutes=5) if detractor and rng.random() < 0.6 else None
        resolved = claimed + timedelta(seconds=rng.randrange(60, 90000)) if claimed and rng.random() < 0.6 else None
        row = {dim: rng.choice(values) for dim, values in VALUES.items()}
        rows.append({
            **row, "conversation_id": f"c{i}", "user_id": f"u{i}", "case_id": f"c{i}", "state": state,
            "skip_reason": rng.choice(["throttled", "opted_out", None]) if state == "skipped" else None,
            "score": score, "category": category(score),
            "comment": rng.choice(["slow", "fine", None]) if score is not None else None,
            "question_status": rng.choice([None, "sent", "delivered", "read", "failed"]) if asked else None,
            "question_ref": rng.choice([None, f"m{i}"]) if asked else None,
            "reasks": 0, "unparsed": [], "extra": {}, "created_at": created, "asked_at": asked, "scored_at": done,
            "completed_at": done, "claimed_at": claimed, "resolved_at": resolved,
        })  # fmt: skip
    return rows


def mentions(rows: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for sid, row in enumerate(rows, start=1):
        if row["comment"] is not None:
            for theme in rng.sample(THEMES, rng.randrange(3)):
                copied = {c: row[c] for c in ("profile", "channel", "agent", "team", "locale", "category", "asked_at")}
                out.append({"survey_id": sid, "theme": theme, **copied})
    return out


# --- the direct aggregates, over the rows as generated --------------------------------------------------------------


def within(at: datetime | None, f: Filters) -> bool:
    if f.since is None and f.until is None:
        return True
    return at is not None and (f.since is None or at >= f.since) and (f.until is None or at < f.until)


def dims_match(row: dict[str, Any], f: Filters) -> bool:
    if f.profiles is not None and row["profile"] not in f.profiles:
        return False
    return all(getattr(f, d) is None or row[d] == getattr(f, d) for d in DIMENSIONS)


def matched(rows: list[dict[str, Any]], f: Filters) -> list[dict[str, Any]]:
    return [r for r in rows if dims_match(r, f) and within(r["asked_at"], f)]


def summed(rows: list[dict[str, Any]]) -> Summary:
    c = Counter(r["category"] for r in rows)
    return Summary(nps(c["promoter"], c["passive"], c["detractor"]), sum(r["asked_at"] is not None for r in rows))


def period(at: datetime, bucket: str) -> str:
    day = at.astimezone(UTC).date()
    if bucket == "week":
        day -= timedelta(days=day.weekday())
    if bucket == "month":
        day = date(day.year, day.month, 1)
    return day.isoformat()


def expected_trend(rows: list[dict[str, Any]], f: Filters, bucket: str) -> list[tuple[str, Summary]]:
    groups = defaultdict(list)
    for r in matched(rows, f):
        if r["asked_at"] is not None:
            groups[period(r["asked_at"], bucket)].append(r)
    return [(p, summed(groups[p])) for p in sorted(groups)]


def expected_followups(rows: list[dict[str, Any]], f: Filters) -> dict[str, Any]:
    done = [r for r in matched(rows, f) if r["category"] == "detractor" and r["state"] == "completed"]
    seconds = [round((r["resolved_at"] - r["completed_at"]).total_seconds(), 3) for r in done if r["resolved_at"]]
    return {
        "open": sum(r["resolved_at"] is None and r["claimed_at"] is None for r in done),
        "claimed": sum(r["resolved_at"] is None and r["claimed_at"] is not None for r in done),
        "resolved": len(seconds),
        "median_seconds_to_resolve": median(seconds) if seconds else None,
    }


def expected_delivery(rows: list[dict[str, Any]], f: Filters) -> dict[str, ChannelDelivery]:
    out = {}
    for channel in {r["channel"] for r in matched(rows, f) if r["asked_at"] is not None}:
        mine = [r for r in matched(rows, f) if r["asked_at"] is not None and r["channel"] == channel]
        status = [r["question_status"] for r in mine]
        out[channel] = ChannelDelivery(
            len(mine),
            sum(bool(r["question_status"] or r["question_ref"]) or r["score"] is not None for r in mine),
            sum(r["question_status"] in ("delivered", "read") or r["score"] is not None for r in mine),
            status.count("failed"),
            sum(s in ("delivered", "read", "failed") for s in status),
            sum(r["score"] is not None for r in mine),
        )
    return out


def expected_skipped(rows: list[dict[str, Any]], f: Filters) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for r in rows:
        if r["state"] == "skipped" and dims_match(r, f) and within(r["created_at"], f):
            why = r["skip_reason"] or "unknown"
            out[r["channel"]][why] = out[r["channel"]].get(why, 0) + 1
    return dict(out)


def expected_values(rows: list[dict[str, Any]], dim: str, f: Filters) -> list[str]:
    c = Counter(r[dim] for r in matched(rows, f) if r[dim] is not None)
    return sorted(c, key=lambda v: (-c[v], v))


def theme_rows(rows: list[dict[str, Any]], themes: list[dict[str, Any]], f: Filters) -> list[dict[str, Any]]:
    return [t for t in themes if dims_match(rows[t["survey_id"] - 1], f) and within(t["asked_at"], f)]


def expected_figures(rows: list[dict[str, Any]], themes: list[dict[str, Any]], f: Filters) -> list[ThemeFigures]:
    total = summed(matched(rows, f)).result
    commented = [r for r in matched(rows, f) if r["comment"] is not None and r["category"] is not None]
    comments = dict(Counter(r["category"] for r in commented))
    per: dict[str, Counter] = defaultdict(Counter)
    for t in theme_rows(rows, themes, f):
        per[t["theme"]][t["category"]] += 1
    out = [
        ThemeFigures(name, nps(c["promoter"], c["passive"], c["detractor"]), total, comments) for name, c in per.items()
    ]
    return sorted(out, key=lambda x: (-x.mentions.responses, x.theme))


def expected_theme_trend(
    rows: list[dict[str, Any]], themes: list[dict[str, Any]], f: Filters, bucket: str
) -> dict[str, list[dict[str, Any]]]:
    commented = Counter(
        period(r["asked_at"], bucket)
        for r in matched(rows, f)
        if r["comment"] is not None and r["category"] is not None and r["asked_at"] is not None
    )
    per: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for t in theme_rows(rows, themes, f):
        per[period(t["asked_at"], bucket), t["theme"]][t["category"]] += 1
    out: dict[str, list[dict[str, Any]]] = {}
    for p, theme in sorted(per):
        c = per[p, theme]
        result = nps(c["promoter"], c["passive"], c["detractor"])
        of = commented[p]
        out.setdefault(theme, []).append({
            "period": p, "mentions": result.responses,
            "share_of_comments": None if of == 0 else round(result.responses / of, 4),
            "nps": None if result.nps is None else round(result.nps, 2),
            "margin": None if result.margin is None else round(result.margin, 2),
        })  # fmt: skip
    return out


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return START + timedelta(days=day, hours=hour, minutes=minute)


PERIODS = [
    (None, None),
    (at(3, 9, 17), at(15, 13, 5)),  # partial first and last day
    (at(3), at(15)),  # whole days only
    (at(4, 8), at(4, 20)),  # inside one day
    (at(4, 8), at(5)),  # a partial day ending at midnight
    (at(6, 23, 59), None),  # open at the end
    (None, at(9, 0, 30)),  # open at the start
    (at(12, 10), at(2, 3)),  # backwards: nothing
]
FILTERS = [Filters(since=a, until=b) for a, b in PERIODS]
FILTERS += [Filters(**{d: v}) for d, values in VALUES.items() for v in values if v is not None]
FILTERS += [
    Filters(profiles=("tapas",), since=at(2, 6, 45), until=at(18, 18)),
    Filters(agent="ana", channel="slack", since=at(1, 12)),
    Filters(campaign="spring", variant="b", until=at(16, 7)),
    Filters(workspace="T1", kind="relational", since=at(5), until=at(11, 4, 4)),
    Filters(profiles=()),
]


async def unfold(conn: AsyncConnection) -> None:
    """Rollup rows moved to their change logs, as changes not folded yet: a third of them wholly, a third leaving a
    row of zeros behind, and for the rest a change and its undoing added beside them."""
    for name in rollups.ORDER:
        rollup, log, counters = rollups.TABLES[name], rollups.LOGS[name], rollups.COUNTERS[name]
        keys, columns = [rollup.c[k] for k in rollups.KEYS[name]], [*rollups.KEYS[name], *counters]
        for sign, part in ((1, 1), (1, 2), (1, 0), (-1, 0)):
            moved = select(*keys, *((sign * rollup.c[c]).label(c) for c in counters)).where(rollup.c.id % 3 == part)
            await conn.execute(log.insert().from_select(columns, moved))
        await conn.execute(delete(rollup).where(rollup.c.id % 3 == 1))
        await conn.execute(update(rollup).where(rollup.c.id % 3 == 2).values(dict.fromkeys(counters, 0)))


@pytest.fixture(params=["folded", "unfolded"])
async def world(store: Store, request: pytest.FixtureRequest) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows, themes = surveys(600, seed=18), []
    themes = mentions(rows, seed=19)
    async with store.transaction() as conn:
        await conn.execute(insert(S), rows)
        await conn.execute(insert(T), themes)
        await rebuild(conn)
        if request.param == "unfolded":
            await unfold(conn)
            assert (await conn.execute(select(rollups.LOGS["report_days"].c.id))).first() is not None
    return rows, themes


async def test_every_report_equals_the_direct_aggregate(store: Store, world) -> None:
    rows, themes = world
    assert {r["state"] for r in rows} >= {"skipped", "pending", "completed", "expired"} and len(themes) > 100
    for f in FILTERS:
        m = matched(rows, f)
        assert await summary(store, f) == summed(m), f
        scores = Counter(r["score"] for r in m if r["score"] is not None)
        assert await distribution(store, f) == [scores[n] for n in range(11)], f
        for dim in DIMENSIONS:
            groups = defaultdict(list)
            for r in m:
                groups[r[dim]].append(r)
            want = sorted(((k, summed(v)) for k, v in groups.items()), key=lambda kv: (-kv[1].responses, str(kv[0])))
            assert await breakdown(store, dim, f) == want, (f, dim)
            assert await dimension_values(store, dim, f) == expected_values(rows, dim, f), (f, dim)
        assert await dimension_values(store, "agent", f, limit=1) == expected_values(rows, "agent", f)[:1]
        assert await dimension_options(store, DIMENSIONS, f) == {d: expected_values(rows, d, f) for d in DIMENSIONS}
        for bucket in ("day", "week", "month"):
            assert await trend(store, f, bucket) == expected_trend(rows, f, bucket), (f, bucket)
            assert await theme_trend(store, f, bucket) == expected_theme_trend(rows, themes, f, bucket), (f, bucket)
        got = await followup_stats(store, f)
        want_fu = expected_followups(rows, f)
        assert got == {**want_fu, "median_seconds_to_resolve": pytest.approx(want_fu["median_seconds_to_resolve"])}
        assert await delivery_by_channel(store, f) == expected_delivery(rows, f), f
        assert await skipped_by_reason(store, f) == expected_skipped(rows, f), f
        assert await theme_figures(store, f) == expected_figures(rows, themes, f), f


async def test_compare_and_the_api_parts_read_the_same_counts(store: Store, world) -> None:
    rows, themes = world
    since, until = at(10, 7, 30), at(17, 7, 30)
    got = await compare(store, Filters(profile="acme"), since, until)
    assert got.current == summed(matched(rows, Filters(profile="acme", since=since, until=until)))
    assert got.previous == summed(matched(rows, Filters(profile="acme", since=since - (until - since), until=since)))
    f = Filters(since=at(2, 5), until=at(19, 21))
    parts = await report_parts(store, f, by="theme", bucket="week", minimum=30)
    assert parts.total == summed(matched(rows, f)) and parts.trend == expected_trend(rows, f, "week")
    assert parts.skipped == expected_skipped(rows, f)
    assert parts.breakdown == [{"key": x.theme, **x.as_dict(30)} for x in expected_figures(rows, themes, f)]
    by_channel = await report_parts(store, replace(f, until=None), by="channel", bucket=None, minimum=30)
    assert by_channel.trend is None and [r["key"] for r in by_channel.breakdown or []] == [
        k for k, _ in await breakdown(store, "channel", replace(f, until=None))
    ]
    assert all("questions_delivered" in r for r in by_channel.breakdown or [])
