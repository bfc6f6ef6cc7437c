"""The `npsbot` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from bots.config import ConfigError, load_config
from core.messages import deprecated_keys
from core.reports.summary import MIN_RESPONSES

DEFAULT_CONFIG = "config.yaml"


def _config(args: argparse.Namespace):
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"configuration problems in {args.config}:", file=sys.stderr)
        for line in exc.problems:
            print(f"  - {line}", file=sys.stderr)
        raise SystemExit(2) from None
    # Still accepted, so not problems; named on every command so the operator renames them before they go.
    for name, profile in cfg.profiles.items():
        for hint in deprecated_keys(profile.messages):
            print(f"warning: {args.config}: profiles.{name}.{hint}", file=sys.stderr)
    return cfg


def cmd_check_config(args: argparse.Namespace) -> int:
    cfg = _config(args)
    for name, profile in cfg.profiles.items():
        print(f"profile {name}: channels {', '.join(profile.channels) or 'none'}, locale {profile.locale}")
    for warning in cfg.privacy.warnings():
        print(f"warning: {args.config}: {warning}", file=sys.stderr)
    print("configuration OK")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from bots.database_check import DatabaseUnusable, check_connection, migrating
    from core.store import Store

    url = args.database or _config(args).database_url
    key = "--database" if args.database else "database_url"

    async def go() -> None:
        store = Store(url)
        try:
            await check_connection(store, url, key)
            await migrating(store.migrate(args.revision), url, key)
        finally:
            await store.dispose()

    try:
        asyncio.run(go())
    except DatabaseUnusable as exc:
        print(f"npsbot migrate: {exc}", file=sys.stderr)
        return 1
    print(f"database at {args.revision}")
    return 0


def cmd_sessions(args: argparse.Namespace) -> int:
    from bots.sessions import revoke_all

    url = args.database or _config(args).database_url
    print(f"{asyncio.run(revoke_all(url))} dashboard session(s) revoked")
    return 0


def cmd_tokens(args: argparse.Namespace) -> int:
    from bots.token_keys import ENV, environment_keys, reencrypt
    from core.secrets import new_key

    if args.action == "new-key":
        print(new_key())
        return 0
    keys, problems = environment_keys()
    if problems or not keys:
        print(f"npsbot tokens: {'; '.join(problems) or ENV + ' holds no key'}", file=sys.stderr)
        return 2
    url = args.database or _config(args).database_url
    done = asyncio.run(reencrypt(url, keys))
    print(done)
    return 1 if done.unreadable else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bots.demo import run_demo

    if not args.verbose:  # the migration log would bury the transcript
        logging.getLogger("alembic").setLevel(logging.WARNING)
    result = asyncio.run(run_demo(args.conversations, args.seed, args.database))
    return 0 if result["ok"] else 1


def cmd_report(args: argparse.Namespace) -> int:
    from bots.report_cli import ReportError, run_report

    cfg = _config(args) if args.database is None or args.config.exists() else None
    url = args.database or cfg.database_url
    minimum = args.min_responses or (cfg.report.min_responses if cfg else MIN_RESPONSES)
    by = [d.strip() for d in args.by.split(",") if d.strip()]
    try:
        text = asyncio.run(
            run_report(
                url,
                profile=args.profile,
                channel=args.channel,
                agent=args.agent,
                team=args.team,
                locale=args.locale,
                workspace=args.workspace,
                kind=args.kind,
                campaign=args.campaign,
                variant=args.variant,
                since=args.since,
                until=args.until,
                by=by,
                bucket=args.bucket,
                fmt=args.format,
                minimum=minimum,
                profiles=list(cfg.profiles) if cfg else None,
                settings=cfg.profile_settings() if cfg else None,
            )
        )
    except ReportError as exc:
        print(f"npsbot report: {exc}", file=sys.stderr)
        return 2
    if text:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def cmd_themes(args: argparse.Namespace) -> int:
    from rich.console import Console

    from bots.themes_cli import ThemesError, run_discover, run_rebuild

    cfg, console = _config(args), Console()
    try:
        if args.action == "rebuild":
            asyncio.run(run_rebuild(cfg, args.profile, console))
            return 0
        if args.profile is None:
            raise ThemesError("discover: --profile is required (phrases are found in one profile's comments)")
        options = {"since": args.since, "until": args.until, "limit": args.limit, "sample": args.sample}
        text = asyncio.run(run_discover(cfg, args.profile, fmt=args.format, console=console, **options))
    except ThemesError as exc:
        print(f"npsbot themes: {exc}", file=sys.stderr)
        return 2
    if text:
        sys.stdout.write(text + "\n")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from bots.database_check import DatabaseUnusable
    from bots.serve import serve

    cfg = _config(args)
    role = args.role or cfg.worker.role

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(cfg, role=role, stop=stop, migrate=not args.no_migrate)

    try:
        asyncio.run(main())
    except DatabaseUnusable as exc:
        print(f"npsbot run: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_privacy(args: argparse.Namespace) -> int:
    """`npsbot privacy <action>`: each action's module sets `privacy_run(config, args)`."""
    return int(args.privacy_run(_config(args), args) or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="npsbot", description="Net Promoter Score surveys inside chat.")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("-c", "--config", type=Path, default=Path(DEFAULT_CONFIG), help="YAML configuration file")
        return p

    p = with_config(sub.add_parser("run", help="serve webhooks and the API, and deliver messages"))
    p.add_argument("--role", choices=["all", "web", "worker"], help="override worker.role from the config")
    p.add_argument("--no-migrate", action="store_true", help="don't upgrade the schema on start")
    p.set_defaults(func=cmd_run)

    p = with_config(sub.add_parser("check-config", help="validate the configuration and exit"))
    p.set_defaults(func=cmd_check_config)

    p = with_config(sub.add_parser("migrate", help="upgrade the database schema"))
    p.add_argument("--database", help="database URL (default: database_url from the config)")
    p.add_argument("--revision", default="head")
    p.set_defaults(func=cmd_migrate)

    p = with_config(sub.add_parser("report", help="print the Customer Feedback Report"))
    p.add_argument("--database", help="database URL (default: database_url from the config)")
    p.add_argument("--profile")
    for dim in ("channel", "agent", "team", "locale", "workspace", "campaign", "variant"):
        p.add_argument(f"--{dim}", help=f"only this {dim}")
    p.add_argument("--kind", choices=["transactional", "relational"], help="only this kind of survey")
    p.add_argument("--since", help="ISO date or time (UTC unless it has an offset), inclusive")
    p.add_argument("--until", help="ISO time, exclusive; a bare date includes that whole day")
    p.add_argument(
        "--by",
        default="agent,team,channel",
        help="comma-separated: profile,channel,agent,team,locale,workspace,kind,campaign,variant,theme",
    )
    p.add_argument("--bucket", choices=["day", "week", "month"], default="week")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument(
        "--min-responses",
        type=int,
        help=f"flag rows with fewer responses (default: report.min_responses, {MIN_RESPONSES})",
    )
    p.set_defaults(func=cmd_report)

    p = with_config(sub.add_parser("themes", help="comment themes: re-assign past comments, discover new themes"))
    p.add_argument("action", choices=["rebuild", "discover"], help="rebuild: after the taxonomy changed")
    p.add_argument("--profile", help="one profile (rebuild: default all; discover: required)")
    p.add_argument("--since", help="discover: ISO date or time, inclusive")
    p.add_argument("--until", help="discover: ISO time, exclusive; a bare date includes that whole day")
    p.add_argument("--limit", type=int, default=20, help="discover: how many phrases")
    p.add_argument("--sample", type=int, default=2000, help="discover: newest unmatched comments read")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_themes)

    p = with_config(sub.add_parser("sessions", help="manage dashboard sign-ins"))
    p.add_argument("action", choices=["revoke-all"], help="revoke-all: sign every browser out, in every process")
    p.add_argument("--database", help="database URL (default: database_url from the config)")
    p.set_defaults(func=cmd_sessions)

    p = with_config(sub.add_parser("tokens", help="keys for the platform tokens stored in the database"))
    p.add_argument(
        "action",
        choices=["new-key", "reencrypt"],
        help="new-key: print a fresh key; reencrypt: re-seal every stored token with the first of NPSBOT_TOKEN_KEYS",
    )
    p.add_argument("--database", help="database URL (default: database_url from the config)")
    p.set_defaults(func=cmd_tokens)

    from bots import contacts_cli, rules_cli

    rules_cli.add_command(sub, with_config, _config)
    contacts_cli.add_command(sub, with_config, _config)

    from bots import campaigns_cli

    campaigns_cli.add_command(sub, with_config, _config)

    from bots import digest_cli

    digest_cli.add_command(sub, with_config, _config)

    from bots import rollups_cli

    rollups_cli.add_command(sub, with_config, _config)

    from bots import privacy_cli, retention_cli

    p = sub.add_parser("privacy", help="personal data: erase, export, audit log, retention")
    privacy_actions = p.add_subparsers(dest="action", required=True)  # each action: its module's add_command
    retention_cli.add_command(privacy_actions, with_config)
    privacy_cli.add_commands(privacy_actions, with_config)
    p.set_defaults(func=cmd_privacy)

    p = sub.add_parser("demo", help="simulate a few dozen conversations end to end and print the report")
    p.add_argument("--conversations", type=int, default=42)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--database", help="database URL (default: a fresh SQLite file in a temp folder)")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    if args.verbose:  # INFO and above never name customers or quote them; DEBUG (libraries' too) may
        logging.getLogger("npsbot").debug("DEBUG logs may contain message text and personal data (names, ids)")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
