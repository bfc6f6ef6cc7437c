"""`npsbot themes rebuild` (re-assign past comments after the taxonomy changed) and `npsbot themes discover`
(phrases that recur in comments no theme matched), in the terminal."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from core.reports.filters import FilterError, ReportFilters
from core.reports.themes import unmatched_comments
from core.store import Store
from core.themes.discovery import discover
from core.themes.rebuild import count, rebuild


class ThemesError(ValueError):
    """A bad option, reported as one line."""


def _profiles(config: Any, profile: str | None) -> list[str]:
    if profile is None:
        return list(config.profiles)
    if profile not in config.profiles:
        raise ThemesError(f"no profile {profile!r}; profiles: {', '.join(config.profiles)}")
    return [profile]


async def run_rebuild(config: Any, profile: str | None, console: Console, batch: int = 500) -> dict[str, Any]:
    """Every chosen profile's comments matched again against its configured themes, batch by batch."""
    names = _profiles(config, profile)
    settings = config.profile_settings()
    store = Store(config.database_url)
    done: dict[str, Any] = {}
    try:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=False) as progress:
            for name in names:
                task = progress.add_task(f"themes of {name}", total=await count(store, name))
                result = await rebuild(
                    store, name, settings[name].themes, batch=batch, progress=lambda n, t=task: progress.advance(t, n)
                )
                done[name] = result
        for name, r in done.items():
            console.print(
                f"{name}: {r.responses} comments read, {r.matched} mention a theme, {r.rows} theme mentions stored"
                + (f", {r.dropped} of themes no longer configured removed" if r.dropped else "")
            )
    finally:
        await store.dispose()
    return done


async def run_discover(
    config: Any,
    profile: str,
    *,
    since: str | None,
    until: str | None,
    limit: int,
    sample: int,
    fmt: str,
    console: Console,
) -> str:
    """The recurring phrases of one profile's unmatched comments, as a table (printed, returns "") or JSON."""
    _profiles(config, profile)
    try:
        filters = ReportFilters.parse({"profile": profile, "since": since, "until": until}).filters()
    except FilterError as exc:
        raise ThemesError(str(exc)) from None
    store = Store(config.database_url)
    try:
        rows, total = await unmatched_comments(store, filters, sample)
    finally:
        await store.dispose()
    found = discover(rows, top=limit)
    if fmt == "json":
        body = {"profile": profile, "unmatched_comments": total, "read": len(rows)}
        return json.dumps(body | {"phrases": [f.as_dict() for f in found]}, indent=2, ensure_ascii=False)
    table = Table(title=f"recurring phrases in {profile}'s comments that match no theme ({len(rows)} of {total} read)")
    for col, justify in (("phrase", "left"), ("comments", "right"), ("lang", "left"), ("examples", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for f in found:
        also = f" (also: {', '.join(f.related[:4])})" if f.related else ""
        table.add_row(f.phrase + also, str(f.comments), f.language, "\n".join(f.examples))
    console.print(table)
    return ""
