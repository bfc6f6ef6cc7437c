"""`npsbot report`: the Customer Feedback Report in the terminal (rich tables), or as CSV / JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from core.reports import DIMENSIONS, Filters, breakdown, summary
from core.reports.analytics import BUCKETS, followup_stats, trend
from core.reports.responses import ResponseQuery, export_csv
from core.store import Store


class ReportError(ValueError):
    """A bad option, reported as one line instead of a traceback."""


def parse_day(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ReportError(f"{text!r} is not an ISO date or time such as 2026-01-31") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _nps(row: dict[str, Any], minimum: int) -> str:
    """NPS ± margin, with the flag for too few responses next to it."""
    text = "n/a" if row["nps"] is None else f"{row['nps']:+.1f} ± {row['margin']:.1f}"
    return text if row["significant"] else f"{text} (n<{minimum}, not significant)"


async def build(store: Store, filters: Filters, by: list[str], bucket: str, minimum: int) -> dict[str, Any]:
    total = await summary(store, filters)
    return {
        "filters": _describe(filters),
        "min_responses": minimum,
        "summary": total.as_dict(minimum),
        "breakdowns": {
            dim: [{"key": key, **s.as_dict(minimum)} for key, s in await breakdown(store, dim, filters)] for dim in by
        },
        "trend": [{"period": p, **s.as_dict(minimum)} for p, s in await trend(store, filters, bucket)],  # type: ignore[arg-type]
        "detractor_follow_up": await followup_stats(store, filters),
    }


def _describe(filters: Filters) -> dict[str, str | None]:
    out: dict[str, str | None] = {dim: getattr(filters, dim) for dim in DIMENSIONS}
    out["since"] = filters.since.isoformat() if filters.since else None
    out["until"] = filters.until.isoformat() if filters.until else None
    return out


async def run_report(
    database_url: str,
    *,
    profile: str | None,
    since: str | None,
    until: str | None,
    by: list[str],
    bucket: str,
    fmt: str,
    minimum: int,
    channel: str | None = None,
    agent: str | None = None,
    team: str | None = None,
    locale: str | None = None,
    console: Console | None = None,
) -> str:
    """The report as CSV (every matching response), JSON, or rich tables printed to `console` (returns "")."""
    unknown = [d for d in by if d not in DIMENSIONS]
    if unknown:
        raise ReportError(f"--by {','.join(unknown)}: choose from {','.join(DIMENSIONS)}")
    if bucket not in BUCKETS:
        raise ReportError(f"--bucket {bucket}: choose from {','.join(BUCKETS)}")
    filters = Filters(
        profile=profile, channel=channel, agent=agent, team=team, locale=locale, since=parse_day(since),
        until=parse_day(until),
    )  # fmt: skip
    store = Store(database_url)
    try:
        if fmt == "csv":
            return await export_csv(store, ResponseQuery(filters=filters))
        data = await build(store, filters, by, bucket, minimum)
    finally:
        await store.dispose()
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False)
    console = console or Console()
    _print(console, data, minimum)
    return ""


def _print(console: Console, data: dict[str, Any], minimum: int) -> None:
    s = data["summary"]
    rate = "n/a" if s["response_rate"] is None else f"{s['response_rate']:.0%}"
    console.rule("Customer Feedback Report")
    chosen = ", ".join(f"{k} {v}" for k, v in data["filters"].items() if v)
    if chosen:
        console.print(f"[dim]{chosen}[/dim]")
    console.print(
        f"[bold]NPS {_nps(s, minimum)}[/bold]  (n={s['responses']}, asked {s['asked']}, response rate {rate})  "
        f"promoters {s['promoters']} · passives {s['passives']} · detractors {s['detractors']}"
    )
    for dim, rows in data["breakdowns"].items():
        table = Table(title=f"by {dim}")
        for col in (dim, "responses", "NPS ± margin", "promoters", "passives", "detractors"):
            table.add_column(col, justify="right")
        for row in rows:
            table.add_row(
                str(row["key"]), str(row["responses"]), _nps(row, minimum), str(row["promoters"]),
                str(row["passives"]), str(row["detractors"]),
            )  # fmt: skip
        console.print(table)
    table = Table(title="trend")
    for col in ("period", "responses", "NPS ± margin", "response rate"):
        table.add_column(col, justify="right")
    for row in data["trend"]:
        rate = "n/a" if row["response_rate"] is None else f"{row['response_rate']:.0%}"
        table.add_row(row["period"], str(row["responses"]), _nps(row, minimum), rate)
    console.print(table)
    f = data["detractor_follow_up"]
    median = f["median_seconds_to_resolve"]
    when = "n/a" if median is None else f"{median / 3600:.1f} h"
    console.print(f"detractor follow-up: {f['open']} open · {f['claimed']} claimed · {f['resolved']} resolved · "
                  f"median time to resolve {when}")  # fmt: skip
