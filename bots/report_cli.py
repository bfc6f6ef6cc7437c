"""`npsbot report`: the Customer Feedback Report in the terminal (rich tables), or as CSV / JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from core.reports import Filters, Summary, breakdown, summary
from core.reports.analytics import followup_stats, significant, trend
from core.reports.responses import ResponseQuery, export_csv
from core.store import Store


def parse_day(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _nps(s: Summary) -> str:
    r = s.result
    return "n/a" if r.nps is None else f"{r.nps:+.1f} ± {r.margin:.1f}"


async def build(store: Store, filters: Filters, by: list[str], bucket: str, minimum: int) -> dict[str, Any]:
    total = await summary(store, filters)
    return {
        "summary": total.as_dict(),
        "breakdowns": {
            dim: [
                {"key": key, **s.as_dict(), "significant": significant(s, minimum)}
                for key, s in await breakdown(store, dim, filters)
            ]
            for dim in by
        },
        "trend": [{"period": p, **s.as_dict()} for p, s in await trend(store, filters, bucket)],  # type: ignore[arg-type]
        "detractor_follow_up": await followup_stats(store, filters),
    }


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
    console: Console | None = None,
) -> str:
    store = Store(database_url)
    filters = Filters(profile=profile, since=parse_day(since), until=parse_day(until))
    try:
        if fmt == "csv":
            return await export_csv(store, ResponseQuery(filters=replace(filters)))
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
    head = "n/a" if s["nps"] is None else f"{s['nps']:+.1f} ± {s['margin']:.1f}"
    rate = "n/a" if s["response_rate"] is None else f"{s['response_rate']:.0%}"
    console.rule("Customer Feedback Report")
    console.print(
        f"[bold]NPS {head}[/bold]  (n={s['responses']}, asked {s['asked']}, response rate {rate})  "
        f"promoters {s['promoters']} · passives {s['passives']} · detractors {s['detractors']}"
    )
    for dim, rows in data["breakdowns"].items():
        table = Table(title=f"by {dim}")
        for col in (dim, "responses", "NPS ± margin", "promoters", "passives", "detractors"):
            table.add_column(col, justify="right")
        for row in rows:
            nps = "n/a" if row["nps"] is None else f"{row['nps']:+.1f} ± {row['margin']:.1f}"
            if not row["significant"]:
                nps += f" (n<{minimum})"
            table.add_row(
                str(row["key"]), str(row["responses"]), nps, str(row["promoters"]), str(row["passives"]),
                str(row["detractors"]),
            )  # fmt: skip
        console.print(table)
    table = Table(title="trend")
    for col in ("period", "responses", "NPS ± margin", "response rate"):
        table.add_column(col, justify="right")
    for row in data["trend"]:
        nps = "n/a" if row["nps"] is None else f"{row['nps']:+.1f} ± {row['margin']:.1f}"
        rate = "n/a" if row["response_rate"] is None else f"{row['response_rate']:.0%}"
        table.add_row(row["period"], str(row["responses"]), nps, rate)
    console.print(table)
    f = data["detractor_follow_up"]
    median = f["median_seconds_to_resolve"]
    when = "n/a" if median is None else f"{median / 3600:.1f} h"
    console.print(f"detractor follow-up: {f['open']} open · {f['claimed']} claimed · {f['resolved']} resolved · "
                  f"median time to resolve {when}")  # fmt: skip
