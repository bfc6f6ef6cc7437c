"""`npsbot contacts import FILE.csv -c config.yaml --profile P [--channel C] [--dry-run]`: contacts from a CSV file
(the columns are core/contacts_csv.py's), validated row by row. Bad rows are listed on standard error with their
line and reason (the first MAX_LISTED, then how many more); the good ones are saved a batch at a time, with a
progress bar on a terminal.

Exit status: 0 when every row was good, 1 when some were bad (the good ones are saved), 2 when the file cannot be
read as contacts (missing, a header without `id`) or not past some line (not UTF-8 there: the good rows before it
are saved), the profile is unknown or `--channel` is not one of its channels. People erased on request are left
out and counted; they do not make the status 1."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from bots.config import Config
from core.contact_batches import MAX_BATCH
from core.contacts_csv import LISTED, Imported, UnreadableFile, import_csv
from core.service import utcnow
from core.store import Store
from core.suppression import SuppressionKeys

MAX_LISTED = LISTED


def add_command(sub: Any, with_config: Any, load: Callable[[Any], Config]) -> None:
    """`npsbot contacts import`, registered on the CLI's subcommands; `load` reads the -c file."""
    p = sub.add_parser("contacts", help="contact records: import them from a CSV file")
    actions = p.add_subparsers(dest="contacts_action", required=True)
    i = with_config(actions.add_parser("import", help="create or update contacts from a CSV file"))
    i.add_argument("file", type=Path, help="CSV with a header: channel, id, locale, timezone, name, … attributes")
    i.add_argument("--profile", required=True, help="the profile the contacts belong to")
    i.add_argument("--channel", help="the channel of every row (when the file has no channel column)")
    i.add_argument("--dry-run", action="store_true", help="validate every row and save nothing")
    i.add_argument("--batch", type=int, default=MAX_BATCH, help=f"rows per transaction (at most {MAX_BATCH})")
    i.add_argument("--database", help="database URL (default: database_url from the config)")
    i.set_defaults(func=lambda args: cmd_import(args, load))


def _refuse(message: str) -> int:
    print(f"npsbot contacts import: {message}", file=sys.stderr)
    return 2


async def run_import(cfg: Config, args: Any, progress: Callable[[int, int], None] | None = None) -> Imported:
    settings = cfg.profile_settings()[args.profile]
    store = Store(args.database or cfg.database_url)
    try:
        return await import_csv(
            store,
            SuppressionKeys(cfg.privacy.keys()),
            args.file,
            profile=args.profile,
            channels=tuple(cfg.profiles[args.profile].channels),
            clock=utcnow,
            locales=settings.policy.messages.locales(),
            channel=args.channel,
            dry_run=args.dry_run,
            batch=args.batch,
            progress=progress,
        )
    finally:
        await store.dispose()


def cmd_import(args: Any, load: Callable[[Any], Config]) -> int:
    cfg = load(args)
    if args.profile not in cfg.profiles:
        return _refuse(f"unknown profile {args.profile!r}")
    if args.channel is not None and args.channel not in cfg.profiles[args.profile].channels:
        return _refuse(f"profile {args.profile!r} has no {args.channel!r} channel")
    if not 1 <= args.batch <= MAX_BATCH:
        return _refuse(f"--batch: 1 to {MAX_BATCH}")
    console = Console(stderr=True)
    try:
        if console.is_terminal:
            columns = (TextColumn("importing"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
            with Progress(*columns, console=console, transient=True) as bar:
                task = bar.add_task("import", total=None)
                done = asyncio.run(run_import(cfg, args, lambda n, size: bar.update(task, completed=n, total=size)))
        else:
            done = asyncio.run(run_import(cfg, args))
    except UnreadableFile as exc:
        if exc.imported is not None:  # stopped at an unreadable line: what was done before it
            report(exc.imported, args.dry_run)
        return _refuse(f"{exc} (the import stopped there)" if exc.imported is not None else str(exc))
    return report(done, args.dry_run)


def report(done: Imported, dry_run: bool) -> int:
    for line, reason in done.bad:
        print(f"line {line}: {reason}", file=sys.stderr)
    if done.bad_rows > len(done.bad):
        print(f"… and {done.bad_rows - len(done.bad)} more bad rows", file=sys.stderr)
    verb = "would save" if dry_run else "saved"
    summary = f"{done.rows} rows: {verb} {done.saved}, {done.bad_rows} bad"
    if done.suppressed:
        lines = ", ".join(map(str, done.suppressed[:MAX_LISTED])) + (" …" if len(done.suppressed) > MAX_LISTED else "")
        summary += f", {len(done.suppressed)} left out as erased on request (lines {lines})"
    print(summary)
    return 1 if done.bad_rows else 0
