"""`npsbot campaigns list|preview NAME|run NAME [--force]`: the profiles' relational campaigns, when each is next
due, who a campaign would ask now, and a run now through the stored schedule (so a run by hand and the worker's
still serve each occurrence once)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from core.campaign_run import CampaignJob, campaign_jobs_for
from core.campaigns import OUTCOMES
from core.scheduler import Scheduler
from core.service import utcnow
from core.store import Store
from core.suppression import SuppressionKeys

LABELS = {
    "due": "due (asked within the send window)",
    "outside": "outside the audience",
    "no_channel": "on none of the campaign's channels",
    "suppressed": "erased on request",
    "consent_denied": "consent denied",
    "opted_out": "opted out",
    "unreachable": "unreachable",
    "throttled": "surveyed within the throttle",
    "not_sampled": "left out by the sample",
}


def add_command(
    sub: Any, with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser], load: Callable[..., Any]
) -> None:
    """`campaigns` on the `npsbot` parser; `load` reads the configuration from the parsed arguments."""
    p = with_config(sub.add_parser("campaigns", help="relational campaigns: list, preview, run now"))
    p.add_argument("action", choices=["list", "preview", "run"])
    p.add_argument("name", nargs="?", help="preview, run: the campaign (profile/campaign when several profiles)")
    p.add_argument("--force", action="store_true", help="run: serve the latest occurrence even if not due yet")
    p.add_argument("--database", help="database URL (default: database_url from the config)")
    p.set_defaults(func=lambda args: cmd_campaigns(load(args), args))


def cmd_campaigns(cfg: Any, args: argparse.Namespace) -> int:
    try:
        text = asyncio.run(campaigns(cfg, args.database or cfg.database_url, args.action, args.name, args.force))
    except LookupError as exc:
        print(f"npsbot campaigns: {exc.args[0]}", file=sys.stderr)
        return 2
    print(text)
    return 0


def pick(jobs: list[CampaignJob], name: str | None) -> CampaignJob:
    """The job `name` names: `profile/campaign`, or a campaign name only one profile uses."""
    if not name:
        raise LookupError("name the campaign (npsbot campaigns list shows them)")
    profile, _, campaign = name.rpartition("/")
    found = [j for j in jobs if j.campaign.name == campaign and profile in ("", j.settings.name)]
    if len(found) != 1:
        known = ", ".join(f"{j.settings.name}/{j.campaign.name}" for j in jobs) or "none configured"
        why = "is in several profiles: write profile/campaign" if found else "is not a campaign"
        raise LookupError(f"{name!r} {why} (campaigns: {known})")
    return found[0]


async def campaigns(
    cfg: Any, url: str, action: str, name: str | None, force: bool, clock: Callable[[], datetime] = utcnow
) -> str:
    store = Store(url)
    try:
        jobs = campaign_jobs_for(store, cfg.profile_settings(), clock, SuppressionKeys(cfg.privacy.keys()))
        if action == "list":
            return await listing(jobs, clock())
        job = pick(jobs, name)
        if action == "preview":
            occurrence = job.current(await job.stored(), clock())
            counts = await job.preview(occurrence)
            return counted(f"{job.name}, the period of {_when(occurrence)}, if run now:", counts)
        counts = await Scheduler(store, [job], clock).run_job(job, force=force)
        if counts is None:
            stored = await job.stored()
            due = _when(stored["due_at"]) if stored else "?"
            return f"{job.name}: not due until {due} (or another worker is running it); --force runs it now"
        return counted(f"{job.name}: ran", counts) + f"\n  {counts.get('created', 0):>10}  surveys created"
    finally:
        await store.dispose()


async def listing(jobs: list[CampaignJob], now: datetime) -> str:
    if not jobs:
        return "no campaigns configured"
    lines = [f"{'campaign':<32} {'schedule':<20} {'time zone':<20} {'next due (UTC)':<17} last run"]
    for job in jobs:
        stored = await job.stored()
        due = stored["due_at"] if stored else job.schedule.first(now, job.tz)
        last = stored.get("last_finished_at") if stored else None
        lines.append(
            f"{job.settings.name + '/' + job.campaign.name:<32} {job.schedule.text:<20} {job.campaign.timezone:<20} "
            f"{_when(due):<17} {_when(last) if last else 'never'}"
        )
    return "\n".join(lines)


def counted(title: str, counts: dict[str, int]) -> str:
    return "\n".join([title, *(f"  {counts.get(k, 0):>10}  {LABELS[k]}" for k in OUTCOMES[::-1])])


def _when(at: datetime) -> str:
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
