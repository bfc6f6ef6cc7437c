"""The follow-up SLA report: per team, agent (or another dimension), how many completed detractors had an SLA,
how many missed their claim / resolve deadline, how many were escalated, and how long claiming and resolving took
(median and 90th percentile, counted from the alert, interpolated as PostgreSQL's percentile_cont). Read from the
follow-up rollup (core/reports/followup_query.py): counts and duration histograms per group from report_followups,
the deadlines passed while still unclaimed (unresolved) from the open follow-ups, and the percentiles from the rows
of the one or two histogram buckets each of them falls in, so the cost follows days × groups, not detractors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.reports import followup_query as fq
from core.reports.summary import DIMENSIONS, Filters
from core.store import Store

SLA_DIMENSIONS = (*DIMENSIONS, "claimed_by")
PERCENTILES = {"median": 5, "p90": 9}  # tenths


def _percentile(values: dict[int, float], n: int, tenths: int) -> float:
    low, high = fq.ranks(n, tenths)
    fraction = ((n - 1) * tenths % 10) / 10
    return round(values[low] + (values[high] - values[low]) * fraction, 3)


async def sla_report(store: Store, filters: Filters, now: datetime, by: str | None = None) -> list[dict[str, Any]]:
    """One row per value of `by`, most detractors first; None: exactly one row, for everything."""
    if by is not None and by not in SLA_DIMENSIONS:
        raise ValueError(f"unknown dimension {by!r}; choose one of {', '.join(SLA_DIMENSIONS)}")
    async with store.read() as conn:
        got = await fq.counts(conn, filters, by, tuple(fq.HISTOGRAMS))
        if by is None and () not in got:
            got[()] = {}
        late = await fq.open_breaches(conn, filters, by, now)
        wanted = {}
        for group, c in got.items():
            for measure in fq.HISTOGRAMS:
                n = fq.size(c, measure)
                if n:
                    wanted[(measure, group)] = sorted({k for t in PERCENTILES.values() for k in fq.ranks(n, t)})
        values = await fq.values_at(conn, filters, by, got, wanted)
    out = []
    for group, c in got.items():
        item: dict[str, Any] = {"key": group[0]} if by is not None else {}
        open_claim, open_resolve = late.get(group, (0, 0))
        item |= {
            "detractors": c.get("detractors", 0),
            "with_sla": c.get("with_sla", 0),
            "claim_breaches": c.get("claim_late", 0) + open_claim,
            "resolve_breaches": c.get("resolve_late", 0) + open_resolve,
            "escalations": c.get("claim_escalated", 0) + c.get("resolve_escalated", 0),
            "claimed": c.get("claimed", 0),
            "resolved": c.get("resolved", 0),
        }
        for measure in fq.HISTOGRAMS:
            n = fq.size(c, measure)
            found = {rank: values[(measure, group, rank)] for rank in wanted.get((measure, group), ())}
            for name, tenths in PERCENTILES.items():
                item[f"{measure}_{name}_seconds"] = _percentile(found, n, tenths) if n else None
        out.append(item)
    return sorted(out, key=lambda r: (-r["detractors"], str(r.get("key"))))
