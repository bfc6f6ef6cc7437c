"""`npsbot reports rebuild-rollups`: count every survey into the report rollups again, from raw rows.

Rollups are kept in step with each write, so this is for after a restore of the surveys table alone, a manual fix
in SQL, or a change of what the rollups count. One transaction of set-based statements; on PostgreSQL writers of
surveys wait for it (the rollup tables are locked) while reports keep reading the old counts until it commits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from core.store import Store
from core.store.rollup_rebuild import rebuild_all


def add_command(sub: Any, with_config: Any, load: Callable[[Any], Any]) -> None:
    """`npsbot reports rebuild-rollups`, registered on the CLI's subcommands; `load` reads the -c file."""
    p = sub.add_parser("reports", help="report rollups: rebuild them from the raw surveys")
    actions = p.add_subparsers(dest="reports_action", required=True)
    r = with_config(actions.add_parser("rebuild-rollups", help="re-derive the report rollups from the raw surveys"))
    r.add_argument("--database", help="database URL (default: database_url from the config)")
    r.set_defaults(func=lambda args: cmd_rebuild(args, load))


def cmd_rebuild(args: Any, load: Callable[[Any], Any]) -> int:
    url = args.database or load(args).database_url
    started = time.monotonic()
    rows = asyncio.run(run_rebuild(url))
    print(f"report rollups rebuilt in {time.monotonic() - started:.1f} s:")
    for table, n in rows.items():
        print(f"  {n:>10}  rows in {table}")
    return 0


async def run_rebuild(url: str) -> dict[str, int]:
    store = Store(url)
    try:
        return await rebuild_all(store)
    finally:
        await store.dispose()
