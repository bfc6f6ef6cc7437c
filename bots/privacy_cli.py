"""`npsbot privacy erase | export | audit`: the operator API's personal-data calls from the shell, with an admin's
reach (every profile, or the one `--profile` names — configured or not any more). The actor recorded in the audit
log is `cli:<the operating-system user>`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from bots.api.privacy_models import AuditParams
from core import audit, privacy
from core.reports.filters import FilterError
from core.service import utcnow
from core.store import Store
from core.suppression import SuppressionKeys


def add_commands(actions: Any, with_config: Any) -> None:
    """`erase`, `export` and `audit` under `npsbot privacy` (the command loads the configuration and calls
    `privacy_run`)."""
    for name, what in (
        ("erase", "erase one person: anonymise their surveys, delete the rest, never survey them again"),
        ("export", "print everything stored about one person as JSON"),
    ):
        p = with_config(actions.add_parser(name, help=what))
        p.add_argument("--channel", required=True, help="the channel the person is reached on, e.g. telegram")
        p.add_argument("--id", required=True, dest="user_id", help="their user id on that channel")
        p.add_argument("--profile", help="only this profile (default: every profile)")
        p.add_argument("--database", help="database URL (default: database_url from the config)")
        if name == "export":
            p.add_argument("-o", "--output", type=Path, help="write the JSON to this file (default: standard output)")
            p.add_argument(
                "--unredacted", action="store_true", help="the stored text, not as the profile shows it (redaction)"
            )
        p.set_defaults(privacy_run=cmd_erase if name == "erase" else cmd_export)
    p = with_config(actions.add_parser("audit", help="print the audit log, newest first, one JSON object a line"))
    p.add_argument("--action", choices=audit.ACTIONS)
    p.add_argument("--profile")
    p.add_argument("--since", help="ISO date or time, inclusive")
    p.add_argument("--until", help="ISO date or time, exclusive; a bare date includes that whole day")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--cursor", type=int, help="continue after a page (its last line's next_cursor)")
    p.add_argument("--database", help="database URL (default: database_url from the config)")
    p.set_defaults(privacy_run=cmd_audit)


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in this environment (a container without passwd entry)
        return "cli"


def _scope(cfg: Any, profile: str | None) -> privacy.Scope:
    if profile:
        return privacy.Scope(frozenset({profile}))
    return privacy.Scope(frozenset(cfg.profiles), everywhere=True)


async def _with_store(url: str, work: Any) -> Any:
    store = Store(url)
    try:
        return await work(store)
    finally:
        await store.dispose()


def _unknown(args: argparse.Namespace) -> int:
    where = f"profile {args.profile}" if args.profile else "any profile"
    print(f"npsbot privacy {args.action}: nobody with that id on {args.channel} in {where}", file=sys.stderr)
    return 1


def cmd_erase(cfg: Any, args: argparse.Namespace) -> int:
    keys = SuppressionKeys(cfg.privacy.keys())

    async def work(store: Store) -> privacy.Erasure:
        return await privacy.erase(
            store, keys, channel=args.channel, user_id=args.user_id, scope=_scope(cfg, args.profile), actor=actor(),
            now=utcnow(),
        )  # fmt: skip

    try:
        done = asyncio.run(_with_store(args.database or cfg.database_url, work))
    except privacy.UnknownPerson:
        return _unknown(args)
    status = "erased" if done.changed else "already erased"
    print(json.dumps({"status": status, "profiles": list(done.profiles), "rows": done.counts}, indent=2))
    return 0


def cmd_export(cfg: Any, args: argparse.Namespace) -> int:
    keys = SuppressionKeys(cfg.privacy.keys())

    async def work(store: Store) -> dict[str, Any]:
        return await privacy.export(
            store, keys, channel=args.channel, user_id=args.user_id, scope=_scope(cfg, args.profile), actor=actor(),
            now=utcnow(), redact=None if args.unredacted else privacy.redactor(cfg.profile_settings()),
        )  # fmt: skip

    try:
        found = asyncio.run(_with_store(args.database or cfg.database_url, work))
    except privacy.UnknownPerson:
        return _unknown(args)
    text = json.dumps(found, indent=2, ensure_ascii=False) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"written to {args.output}", file=sys.stderr)
    return 0


def cmd_audit(cfg: Any, args: argparse.Namespace) -> int:
    given = {k: getattr(args, k) for k in ("action", "profile", "since", "until", "limit", "cursor")}
    try:
        p = AuditParams.parse({k: v for k, v in given.items() if v is not None})
    except FilterError as exc:
        print(f"npsbot privacy audit: {exc}", file=sys.stderr)
        return 2
    query = audit.AuditQuery(p.action, p.profile, p.since, p.until, p.limit, p.cursor)

    async def work(store: Store) -> tuple[list[dict[str, Any]], int | None]:
        return await audit.entries(store, query)

    items, cursor = asyncio.run(_with_store(args.database or cfg.database_url, work))
    for item in items:
        print(json.dumps(item, ensure_ascii=False))
    if cursor is not None:
        print(json.dumps({"next_cursor": cursor}))
    return 0
