"""The follow-up SLA report: per team, agent (or another dimension), how many completed detractors had an SLA,
how many missed their claim / resolve deadline, how many were escalated, and how long claiming and resolving took
(median and 90th percentile, counted from the alert, interpolated as PostgreSQL's percentile_cont). Read from the
follow-up rollup (core/reports/followup_query.py): counts and duration histograms per group from report_followups
(whole months from its monthly copy), the deadlines passed while still unclaimed (unresolved) from the open
follow-ups, and the percentiles from the rows of the histogram buckets each of them falls in, so the cost follows
months (days) × groups, not detractors. `sla_reports` makes several groupings from one read of each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from core.reports import duration_ranks
from core.reports import followup_query as fq
from core.reports.summary import DIMENSIONS, Filters
from core.store import Store

SLA_DIMENSIONS = (*DIMENSIONS, "claimed_by")
PERCENTILES = {"median": 5, "p90": 9}  # tenths
Key = tuple[Any, ...]


def _percentile(values: dict[int, float], n: int, tenths: int) -> float:
    low, high = fq.ranks(n, tenths)
    fraction = ((n - 1) * tenths % 10) / 10
    return round(values[low] + (values[high] - values[low]) * fraction, 3)


async def sla_report(store: Store, filters: Filters, now: datetime, by: str | None = None) -> list[dict[str, Any]]:
    """One row per value of `by`, most detractors first; None: exactly one row, for everything."""
    return (await sla_reports(store, filters, now, (by,)))[by]


def _regrouped(got: Mapping[Key, Mapping[str, int]], dims: Sequence[str], by: str | None) -> dict[Key, dict[str, int]]:
    """Counts keyed by every dimension of `dims` summed by one of them (by None: all in one)."""
    out: dict[Key, dict[str, int]] = {}
    for key, counts in got.items():
        into = out.setdefault(() if by is None else (key[dims.index(by)],), {})
        for name, n in counts.items():
            into[name] = into.get(name, 0) + n
    return out


async def sla_reports(
    store: Store, filters: Filters, now: datetime, bys: Sequence[str | None]
) -> dict[str | None, list[dict[str, Any]]]:
    """sla_report for each of `bys` (None: the summary), read together: the rollup rows and the open follow-ups once,
    grouped by all the dimensions asked at once and summed here per grouping, and each duration bucket's rows once
    for all of them."""
    bys = tuple(dict.fromkeys(bys))
    for by in bys:
        if by is not None and by not in SLA_DIMENSIONS:
            raise ValueError(f"unknown dimension {by!r}; choose one of {', '.join(SLA_DIMENSIONS)}")
    dims = [by for by in bys if by is not None]
    async with store.read() as conn:
        both = await fq.counts(conn, filters, tuple(dims), tuple(fq.HISTOGRAMS))
        open_late = await fq.open_breaches(conn, filters, tuple(dims), now)
        counted, late, wanted = {}, {}, {}
        for by in bys:
            got = counted[by] = _regrouped(both, dims, by)
            if by is None and () not in got:
                got[()] = {}
            late[by] = {k: (v["claim"], v["resolve"]) for k, v in _regrouped(
                {k: {"claim": c, "resolve": r} for k, (c, r) in open_late.items()}, dims, by).items()}  # fmt: skip
            for group, c in got.items():
                for measure in fq.HISTOGRAMS:
                    n = fq.size(c, measure)
                    if n:
                        wanted[(by, measure, group)] = sorted({k for t in PERCENTILES.values() for k in fq.ranks(n, t)})
        placed = {}
        for by in bys:
            mine = {(m, g): ranks for (b, m, g), ranks in wanted.items() if b == by}
            placed |= fq.needs(by, counted[by], mine)
        sizes = {need: where[3] for need, where in placed.items()}
        found = await duration_ranks.values_in_buckets(conn, filters, bys, list(placed), fq.totals(both), sizes)
    values = {(need[1], *placed[need][:3]): value for need, value in found.items()}
    return {by: _rows(by, counted[by], late[by], wanted, values) for by in bys}


def _rows(
    by: str | None,
    got: Mapping[Key, Mapping[str, int]],
    late: Mapping[Key, tuple[int, int]],
    wanted: Mapping[tuple[str | None, str, Key], Sequence[int]],
    values: Mapping[tuple[str | None, str, Key, int], float],
) -> list[dict[str, Any]]:
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
            found = {rank: values[(by, measure, group, rank)] for rank in wanted.get((by, measure, group), ())}
            for name, tenths in PERCENTILES.items():
                item[f"{measure}_{name}_seconds"] = _percentile(found, n, tenths) if n else None
        out.append(item)
    return sorted(out, key=lambda r: (-r["detractors"], str(r.get("key"))))
