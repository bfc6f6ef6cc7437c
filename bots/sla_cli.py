"""The follow-up SLA part of `npsbot report`: breaches, escalations and time to claim / resolve (median, p90) overall
and by team and agent, from core.reports.sla."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from core.reports.sla import sla_reports
from core.reports.summary import Filters
from core.store import Store

BY = ("team", "agent")


async def sla_section(store: Store, filters: Filters, now: datetime | None = None) -> dict[str, Any]:
    got = await sla_reports(store, filters, now or datetime.now(UTC), (None, *BY))  # one read for all three
    return {"summary": got[None][0]} | {f"by_{dim}": got[dim] for dim in BY}


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds / 60:.0f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def print_sla(console: Console, section: dict[str, Any]) -> None:
    s = section["summary"]
    if not s["detractors"]:
        return
    console.print(
        f"follow-up SLAs: {s['with_sla']} of {s['detractors']} detractors had one · {s['claim_breaches']} claimed "
        f"late · {s['resolve_breaches']} resolved late · {s['escalations']} escalations · time to claim "
        f"{duration(s['claim_median_seconds'])} (p90 {duration(s['claim_p90_seconds'])}) · time to resolve "
        f"{duration(s['resolve_median_seconds'])} (p90 {duration(s['resolve_p90_seconds'])})",
        highlight=False,
    )
    for dim in BY:
        rows = section[f"by_{dim}"]
        if not rows:
            continue
        table = Table(title=f"follow-up SLAs by {dim}")
        for col in (dim, "detractors", "claimed late", "resolved late", "escalations", "to claim", "p90",
                    "to resolve", "p90"):  # fmt: skip
            table.add_column(col, justify="left" if col == dim else "right")
        for r in rows:
            table.add_row(
                str(r["key"] if r["key"] is not None else "—"),
                *(str(r[k]) for k in ("detractors", "claim_breaches", "resolve_breaches", "escalations")),
                *(duration(r[f"{m}_{p}_seconds"]) for m in ("claim", "resolve") for p in ("median", "p90")),
            )
        console.print(table)
