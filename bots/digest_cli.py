"""`npsbot digest preview` prints a profile's digest of the period ending now (and writes its chart with --png);
`npsbot digest send` queues one for every target now, for the running worker to deliver, leaving the schedule as
it is."""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bots.config import Config
from core.digest_job import DigestJob
from core.service import utcnow
from core.store import Store


class DigestCliError(ValueError):
    """Reported as one line, exit status 2."""


def digest_job(config: Config, profile: str, store: Store) -> DigestJob:
    settings = config.profile_settings().get(profile)
    if settings is None:
        raise DigestCliError(f"no profile {profile!r} in this configuration")
    if settings.digest is None:
        raise DigestCliError(f"profile {profile!r} has no digest: configure profiles.{profile}.digest")
    return DigestJob(store, settings, utcnow, config.report.min_responses)


async def preview(
    config: Config, profile: str, png: Path | None, database_url: str | None = None, until: datetime | None = None
) -> str:
    """The digest of the period ending `until` (default now), as its targets would receive it."""
    store = Store(database_url or config.database_url)
    try:
        job = digest_job(config, profile, store)
        end = until or utcnow()
        prepared = await job.prepare(end, job.period_ending(end))
    finally:
        await store.dispose()
    if png is not None:
        if prepared.action.image_png is None:
            raise DigestCliError("no chart: the trend has no responses to draw")
        await asyncio.to_thread(png.write_bytes, base64.b64decode(prepared.action.image_png))
    return f"{prepared.action.subject}\n\n{prepared.action.text}"


async def send(config: Config, profile: str, database_url: str | None = None) -> int:
    store = Store(database_url or config.database_url)
    try:
        return await digest_job(config, profile, store).send_now()
    finally:
        await store.dispose()


def instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date or time, e.g. 2026-03-16T08:00") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_command(sub: Any, with_config: Any, load: Callable[[Any], Config]) -> None:
    """`npsbot digest preview|send`, registered on the CLI's subcommands."""
    p = sub.add_parser("digest", help="the scheduled digest: preview it, or send one now")
    actions = p.add_subparsers(dest="digest_action", required=True)
    v = with_config(actions.add_parser("preview", help="print the digest of the period ending now"))
    v.add_argument("--png", type=Path, help="also write the trend chart to this PNG file")
    v.add_argument("--until", type=instant, help="end of the period, ISO 8601 (default: now; no zone: UTC)")
    s = with_config(actions.add_parser("send", help="queue one digest for every target now"))
    for a in (v, s):
        a.add_argument("--profile", required=True)
        a.add_argument("--database", help="database URL (default: database_url from the config)")
    v.set_defaults(
        func=lambda args: run(lambda: preview(load(args), args.profile, args.png, args.database, args.until))
    )
    s.set_defaults(func=lambda args: run(lambda: send(load(args), args.profile, args.database)))


def run(action: Callable[[], Any]) -> int:
    try:
        result = asyncio.run(action())
    except DigestCliError as exc:
        print(f"npsbot digest: {exc}", file=sys.stderr)
        return 2
    print(result if isinstance(result, str) else f"queued {result} digest message(s); the worker delivers them")
    return 0
