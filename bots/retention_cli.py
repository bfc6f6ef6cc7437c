"""`npsbot privacy retention [--dry-run]`: run the retention pass now (as the worker would when it is due), or
count what it would remove without changing anything."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from core.retention_pass import RetentionPass
from core.service import utcnow
from core.store import Store

LABELS = {
    "comments_removed": "surveys' comments and unparsed replies",
    "surveys_anonymised": "surveys' customer names, ids and metadata",
    "messages_of_surveys": "sent or dead messages of those surveys",
    "contacts_deleted": "contacts quiet past the limit (not opted out)",
    "contact_names_removed": "contact names",
    "sent_messages": "delivered outbox messages",
    "dead_letters": "dead letters",
    "delivery_keys": "inbound delivery keys",
    "dead_requests": "inbound journal requests given up on",
    "expired_sessions": "expired dashboard sessions",
}


def add_command(actions: Any, with_config: Any) -> None:
    """`retention` under `npsbot privacy` (the command loads the configuration and calls `privacy_run`)."""
    p = with_config(actions.add_parser("retention", help="anonymise and prune what is past its retention limit"))
    p.add_argument("--dry-run", action="store_true", help="count what would go; change nothing")
    p.add_argument("--database", help="database URL (default: database_url from the config)")
    p.set_defaults(privacy_run=cmd_retention)


def cmd_retention(cfg: Any, args: argparse.Namespace) -> int:
    url = args.database or cfg.database_url
    counts = asyncio.run(run(cfg, url, dry_run=args.dry_run))
    if counts is None:
        print("npsbot privacy retention: a worker is running the pass right now; try again later", file=sys.stderr)
        return 1
    print("would go (dry run, nothing changed):" if args.dry_run else "removed:")
    for key, label in LABELS.items():
        print(f"  {counts.get(key, 0):>10}  {label}")
    return 0


async def run(cfg: Any, url: str, *, dry_run: bool) -> dict[str, int] | None:
    store = Store(url)
    try:
        job = RetentionPass(store, cfg.profile_settings(), cfg.pruning.settings(), utcnow)
        return await job.preview() if dry_run else await job.run_due(force=True)
    finally:
        await store.dispose()
