"""A profile's digest for one period: the figures (from the report layer's public functions) and their text in the
profile's language. Gathering reads the store; rendering is pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from core.digest_texts import number, percent, text
from core.reports.analytics import Bucket, Comparison, compare, followup_stats, trend
from core.reports.benchmark import versus_benchmark
from core.reports.summary import MIN_RESPONSES, Filters, Summary, breakdown
from core.store import Store
from core.store.overdue import overdue_followups

MoverDimension = Literal["team", "agent"]


@dataclass(frozen=True, slots=True)
class Mover:
    """A team or agent whose NPS changed most between the previous period and this one."""

    name: str
    change: float
    nps: float
    responses: int

    @property
    def direction(self) -> str:
        return "up" if self.change > 0 else "down" if self.change < 0 else "flat"


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One bucket of the trend chart: its first day (YYYY-MM-DD, UTC), NPS and the ends of its 95 % interval."""

    period: str
    nps: float | None
    low: float | None
    high: float | None
    responses: int


@dataclass(frozen=True, slots=True)
class DigestFigures:
    profile: str
    since: datetime
    until: datetime
    comparison: Comparison
    open_detractors: int
    overdue_detractors: int
    movers: dict[str, tuple[Mover, ...]] = field(default_factory=dict)
    benchmark: dict[str, Any] | None = None
    bucket: Bucket = "week"
    trend: tuple[TrendPoint, ...] = ()

    @property
    def current(self) -> Summary:
        return self.comparison.current

    def as_dict(self) -> dict[str, Any]:
        """The figures as JSON (a webhook digest's `figures`)."""
        change = self.comparison.change
        return {
            "profile": self.profile,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "current": self.current.as_dict(),
            "previous": self.comparison.previous.as_dict(),
            "change": None if change is None else round(change, 2),
            "change_significant": self.comparison.significant,
            "open_detractors": self.open_detractors,
            "overdue_detractors": self.overdue_detractors,
            "movers": {
                dim: [
                    {
                        "name": m.name,
                        "change": round(m.change, 2),
                        "direction": m.direction,
                        "nps": round(m.nps, 2),
                        "responses": m.responses,
                    }
                    for m in movers
                ]
                for dim, movers in self.movers.items()
            },
            "benchmark": self.benchmark,
            "trend": {
                "bucket": self.bucket,
                "points": [
                    {
                        "period": p.period,
                        "nps": _round(p.nps),
                        "low": _round(p.low),
                        "high": _round(p.high),
                        "responses": p.responses,
                    }
                    for p in self.trend
                ],
            },
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


async def gather(
    store: Store,
    profile: str,
    since: datetime,
    until: datetime,
    now: datetime,
    *,
    benchmark: float | None = None,
    movers: int = 3,
    min_responses: int = 10,
    trend_periods: int = 8,
    minimum: int = MIN_RESPONSES,
) -> DigestFigures:
    """The figures of [since, until) against the period of equal length before it; detractors open now."""
    scope = Filters(profile=profile)
    comparison = await compare(store, scope, since, until, minimum)
    followups = await followup_stats(store, scope)
    async with store.read() as conn:
        overdue = await overdue_followups(conn, profile, now)
    found = {dim: await _movers(store, scope, dim, since, until, movers, min_responses) for dim in ("team", "agent")}
    length = until - since
    bucket: Bucket = "day" if length < timedelta(days=7) else "week"
    points = await trend(store, Filters(profile=profile, since=until - trend_periods * length, until=until), bucket)
    return DigestFigures(
        profile=profile,
        since=since,
        until=until,
        comparison=comparison,
        open_detractors=followups["open"] + followups["claimed"],
        overdue_detractors=overdue,
        movers=found,
        benchmark=versus_benchmark(comparison.current.result, benchmark),
        bucket=bucket,
        trend=tuple(TrendPoint(k, s.result.nps, s.result.low, s.result.high, s.responses) for k, s in points),
    )


async def _movers(
    store: Store, scope: Filters, dimension: MoverDimension, since: datetime, until: datetime, top: int, least: int
) -> tuple[Mover, ...]:
    """The `top` groups with the largest NPS change, among those with `least` responses in both periods."""
    length = until - since
    now = dict(await breakdown(store, dimension, Filters(profile=scope.profile, since=since, until=until)))
    before = dict(await breakdown(store, dimension, Filters(profile=scope.profile, since=since - length, until=since)))
    found = []
    for name, current in now.items():
        previous = before.get(name)
        if name is None or previous is None or min(current.responses, previous.responses) < least:
            continue
        a, b = current.result.nps, previous.result.nps
        if a is not None and b is not None:
            found.append(Mover(str(name), a - b, a, current.responses))
    found.sort(key=lambda m: (-abs(m.change), m.name))
    return tuple(found[:top])


def render(figures: DigestFigures, brand: str, locale: str | None, tz: ZoneInfo) -> tuple[str, str]:
    """(subject, text) in the digest's language; dates in the digest's time zone."""
    f, loc = figures, locale
    span = {"brand": brand, "since": _day(f.since, tz), "until": _day(f.until, tz)}
    lines = [text("title", loc, **span), ""]
    r = f.current.result
    if r.nps is None:
        lines.append(text("nps_none", loc))
    elif r.margin is None:
        lines.append(text("nps_no_margin", loc, nps=number(r.nps, loc, signed=True), responses=r.responses))
    else:
        lines.append(
            text("nps", loc, nps=number(r.nps, loc, signed=True), margin=number(r.margin, loc), responses=r.responses)
        )
    change = f.comparison.change
    if change is None:
        lines.append(text("change_none", loc))
    else:
        verdict = text("significant" if f.comparison.significant else "not_significant", loc)
        lines.append(text("change", loc, change=number(change, loc, signed=True), verdict=verdict))
    rate = f.current.response_rate
    if rate is None:
        lines.append(text("response_rate_none", loc))
    else:
        lines.append(
            text("response_rate", loc, rate=percent(rate, loc), responses=f.current.responses, asked=f.current.asked)
        )
    lines.append(text("detractors", loc, open=f.open_detractors, overdue=f.overdue_detractors))
    if f.benchmark is not None and f.benchmark["difference"] is not None:
        verdict = text("significant" if f.benchmark["significant"] else "not_significant", loc)
        lines.append(
            text(
                "benchmark",
                loc,
                benchmark=number(f.benchmark["benchmark"], loc, signed=True),
                difference=number(f.benchmark["difference"], loc, signed=True),
                verdict=verdict,
            )
        )
    for dim in ("team", "agent"):
        lines += ["", text(f"movers_{dim}", loc)]
        movers = f.movers.get(dim, ())
        if not movers:
            lines.append("  " + text("no_movers", loc))
        for m in movers:
            arrow = {"up": "▲", "down": "▼", "flat": "="}[m.direction]
            values = {
                "name": m.name,
                "change": number(m.change, loc, signed=True),
                "nps": number(m.nps, loc, signed=True),
            }
            lines.append("  " + text("mover", loc, arrow=arrow, responses=m.responses, **values))
    return text("subject", loc, **span), "\n".join(lines)


def _day(instant: datetime, tz: ZoneInfo) -> str:
    return instant.astimezone(tz).date().isoformat()
