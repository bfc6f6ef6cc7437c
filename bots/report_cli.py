"""`npsbot report`: the Customer Feedback Report in the terminal (rich tables), or as CSV / JSON."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from rich.console import Console
from rich.table import Table

from bots.sla_cli import print_sla, sla_section
from core.profiles import ProfileSettings
from core.reports import DIMENSIONS, Filters, breakdown, summary
from core.reports.analytics import BUCKETS, dimension_values, followup_stats, trend
from core.reports.delivery import channel_rows, skipped_by_reason, total_skipped
from core.reports.filters import FilterError, ReportFilters
from core.reports.programme import benchmark_of, benchmarks, one_profile, profile_variants, programme
from core.reports.responses import ResponseQuery, export_csv
from core.reports.themes import theme_figures
from core.store import Store


class ReportError(ValueError):
    """A bad option, reported as one line instead of a traceback."""


def _nps(row: dict[str, Any], minimum: int) -> str:
    """NPS ± margin (n/a when undefined: one response, or all in one category), flagged when too few responses."""
    if row["nps"] is None:
        text = "n/a"
    else:
        text = f"{row['nps']:+.1f} ± {'n/a' if row['margin'] is None else format(row['margin'], '.1f')}"
    return text if row["significant"] else f"{text} (n<{minimum}, not significant)"


async def _check_profile(store: Store, profile: str, configured: Collection[str] | None) -> None:
    """A profile that is neither configured nor in the database is a typo, not an empty report."""
    if configured is not None and profile in configured:
        return
    if not await dimension_values(store, "profile", Filters(profile=profile), limit=1):
        known = sorted(configured) if configured is not None else await dimension_values(store, "profile")
        raise ReportError(f"no profile {profile!r}; profiles: {', '.join(known) or 'none yet'}")


async def build(
    store: Store,
    filters: Filters,
    by: list[str],
    bucket: str,
    minimum: int,
    settings: Mapping[str, ProfileSettings] | None = None,
) -> dict[str, Any]:
    """`settings` are the configured profiles: the benchmark and the variants' order come from them, and the
    report covers one profile when a filter names it or only one is configured."""
    settings = settings or {}
    total = await summary(store, filters)
    extra = await programme(store, filters, total, benchmark_of(filters.profile, list(settings), benchmarks(settings)))
    covered = one_profile(filters.profile, list(settings))
    variants = None
    if covered is not None:
        found = await profile_variants(store, replace(filters, profile=covered), settings.get(covered), minimum=minimum)
        variants = {"profile": covered, **found.as_dict(minimum)}
    themes = {"themes": [f.as_dict(minimum) for f in await theme_figures(store, filters)]} if "theme" in by else {}
    by = [d for d in by if d != "theme"]
    breakdowns = {
        dim: [{"key": key, **s.as_dict(minimum)} for key, s in await breakdown(store, dim, filters)] for dim in by
    }
    if "channel" in breakdowns:  # questions delivered, the response rate against them, skipped by reason
        breakdowns["channel"] = await channel_rows(store, filters, breakdowns["channel"])
    return themes | {
        "filters": _describe(filters),
        "min_responses": minimum,
        "summary": total.as_dict(minimum) | {"benchmark": extra["benchmark"]},
        "skipped": total_skipped(await skipped_by_reason(store, filters)),
        "sampling": extra["sampling"],
        "variants": variants,
        "breakdowns": breakdowns,
        "trend": [{"period": p, **s.as_dict(minimum)} for p, s in await trend(store, filters, bucket)],  # type: ignore[arg-type]
        "detractor_follow_up": await followup_stats(store, filters),
        "follow_up_sla": await sla_section(store, filters),
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
    workspace: str | None = None,
    kind: str | None = None,
    campaign: str | None = None,
    variant: str | None = None,
    console: Console | None = None,
    profiles: Collection[str] | None = None,
    settings: Mapping[str, ProfileSettings] | None = None,
) -> str:
    """The report as CSV (every matching response), JSON, or rich tables printed to `console` (returns "").

    Options are read by the filter parser the API and the dashboard use (core.reports.filters), so a date
    means the same everywhere. `profiles` are the configured ones: `profile` must be one of them or have
    surveys in the database. `settings` (the configured profiles' settings) give the benchmark and the variants'
    order.
    """
    unknown = [d for d in by if d not in (*DIMENSIONS, "theme")]
    if unknown:
        raise ReportError(f"--by {','.join(unknown)}: choose from {','.join(DIMENSIONS)},theme")
    if bucket not in BUCKETS:
        raise ReportError(f"--bucket {bucket}: choose from {','.join(BUCKETS)}")
    options = {"profile": profile, "channel": channel, "agent": agent, "team": team, "locale": locale}
    options |= {"workspace": workspace, "kind": kind, "campaign": campaign, "variant": variant}
    try:
        filters = ReportFilters.parse(options | {"since": since, "until": until}).filters()
    except FilterError as exc:
        raise ReportError(str(exc)) from None
    store = Store(database_url)
    try:
        if filters.profile is not None:
            await _check_profile(store, filters.profile, profiles)
        if fmt == "csv":
            return await export_csv(store, ResponseQuery(filters=filters))
        data = await build(store, filters, by, bucket, minimum, settings)
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
    if s["benchmark"] is not None:
        console.print(_benchmark(s["benchmark"]))
    if data["sampling"] is not None and data["sampling"]["sampled_out"]:
        sampled = data["sampling"]
        console.print(f"sampled {sampled['sampled']} of {sampled['closed']} closed conversations")
    if data["skipped"]:
        console.print("skipped: " + " · ".join(f"{why} {n}" for why, n in data["skipped"].items()))
    if data["variants"] is not None and data["variants"]["variants"]:
        _print_variants(console, data["variants"], minimum)
    for dim, rows in data["breakdowns"].items():
        if dim == "channel":
            _print_channels(console, rows, minimum)
            continue
        table = Table(title=f"by {dim}")
        for col in (dim, "responses", "NPS ± margin", "promoters", "passives", "detractors"):
            table.add_column(col, justify="right")
        for row in rows:
            table.add_row(
                str(row["key"]), str(row["responses"]), _nps(row, minimum), str(row["promoters"]),
                str(row["passives"]), str(row["detractors"]),
            )  # fmt: skip
        console.print(table)
    if "themes" in data:
        _print_themes(console, data["themes"], minimum)
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
    print_sla(console, data["follow_up_sla"])


def _print_channels(console: Console, rows: list[dict[str, Any]], minimum: int) -> None:
    """The channel table also says whether the questions arrived: delivered (sent, where a channel reports no
    delivery), the response rate against them, and what was skipped and why."""
    table = Table(title="by channel")
    cols = ("channel", "responses", "NPS ± margin", "promoters", "passives", "detractors", "questions delivered",
            "response rate (of delivered)", "skipped")  # fmt: skip
    for col in cols:
        table.add_column(col, justify="right")
    for row in rows:
        rate = "n/a" if row["response_rate_delivered"] is None else f"{row['response_rate_delivered']:.0%}"
        delivered = str(row["questions_delivered"]) + ("" if row["delivery_reported"] else " (sent)")
        skipped = ", ".join(f"{why} {n}" for why, n in sorted(row["skipped"].items())) or "—"
        table.add_row(
            str(row["key"]), str(row["responses"]), _nps(row, minimum), str(row["promoters"]), str(row["passives"]),
            str(row["detractors"]), delivered, rate, skipped,
        )  # fmt: skip
    console.print(table)


def _print_themes(console: Console, rows: list[dict[str, Any]], minimum: int) -> None:
    """Driver impact: each theme's mentions, the share of each category's comments that mention it, its
    mentions' NPS, and how far it moves the overall NPS (see core/reports/themes.py)."""
    table = Table(title="by theme")
    for col in ("theme", "mentions", "of detractor comments", "of passive", "of promoter", "NPS ± margin", "impact"):
        table.add_column(col, justify="right")

    def share(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.0%}"

    for row in rows:
        impact = "n/a" if row["impact"] is None else f"{row['impact']:+.1f}"
        table.add_row(
            row["theme"], str(row["mentions"]), share(row["share"]["detractor"]), share(row["share"]["passive"]),
            share(row["share"]["promoter"]), _nps({**row, "responses": row["mentions"]}, minimum), impact,
        )  # fmt: skip
    console.print(table)


def _benchmark(b: dict[str, Any]) -> str:
    """The profile's benchmark against the headline NPS: the difference, and whether it exceeds the margin."""
    difference = "n/a" if b["difference"] is None else f"{b['difference']:+.1f}"
    verdict = {True: "significant", False: "within the margin of error", None: "no margin to judge by"}
    return f"benchmark {b['benchmark']:+.1f}: {difference} ({verdict[b['significant']]})"


def _print_variants(console: Console, data: dict[str, Any], minimum: int) -> None:
    """Each variant's response rate and NPS, and the difference from the control's with its verdict."""
    table = Table(title=f"variants of {data['profile']} (control {data['control']})")
    for col in ("variant", "asked", "responses", "response rate", "vs control", "NPS ± margin", "vs control"):
        table.add_column(col, justify="right")

    def versus(v: dict[str, Any] | None, show: str) -> str:
        if v is None:
            return "control"
        return ("n/a" if v["difference"] is None else format(v["difference"], show)) + f" · {v['verdict']}"

    for row in data["variants"]:
        c = row["versus_control"] or {"response_rate": None, "nps": None}
        rate = "n/a" if row["response_rate"] is None else f"{row['response_rate']:.0%}"
        table.add_row(
            row["variant"], str(row["asked"]), str(row["responses"]), rate, versus(c["response_rate"], "+.1%"),
            _nps(row, minimum), versus(c["nps"], "+.1f"),
        )  # fmt: skip
    console.print(table)
