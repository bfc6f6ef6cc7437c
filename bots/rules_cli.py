"""`npsbot rules test -c config.yaml --response ID`: which of the file's routing rules match a stored response,
each condition's result, in rule order, and what would be done. The rules are the file's, so an edit can be tried
on real responses before the server reloads it."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from bots.config import Config
from core.routing_explain import NotAnswered, explain_response
from core.sla import compact
from core.store import Store

MARKS = {True: "✓", False: "✗", None: "?"}
OUTCOMES = {
    "matched": "matched",
    "no_match": "no match",
    "waiting": "waits for the comment",
    "not_reached": "not reached",
}


class RulesTestError(ValueError):
    """Reported as one line, exit status 2."""


async def rules_test(config: Config, response_id: int, database_url: str | None = None) -> dict[str, Any]:
    store = Store(database_url or config.database_url)
    try:
        found = await explain_response(store, response_id, config.profile_settings())
    except NotAnswered as exc:
        raise RulesTestError(str(exc)) from None
    finally:
        await store.dispose()
    if found is None:
        raise RulesTestError(f"no response {response_id} of a profile in this configuration")
    return found


def render(found: dict[str, Any], fmt: str, console: Console | None = None) -> str:
    """JSON as the API returns it, or tables printed to `console` (returns "")."""
    if fmt == "json":
        return json.dumps(found, indent=2, ensure_ascii=False)
    console = console or Console()
    r = found["response"]
    themes = ", ".join(r["themes"]) or "none"
    console.rule(f"Routing rules for response {r['id']}")
    console.print(
        f"profile {r['profile']} · {r['channel']} · {r['state']} · score {r['score']} ({found['category']}) · "
        f"themes: {themes} · read as when it was {found['point']}",
        highlight=False,
    )
    if not found["rules"]:
        console.print("the profile has no rules: the profile's alerts apply, priority normal")
    for i, rule in enumerate(found["rules"]):
        stops = " · stops" if rule["stops"] else ""
        table = Table(title=f"{i + 1}. {rule['name']}: {OUTCOMES[rule['outcome']]}{stops}", title_justify="left")
        for col in ("", "condition", "expected", "actual"):
            table.add_column(col, justify="left")
        for c in rule["conditions"]:
            table.add_row(MARKS[c["result"]], c["condition"], c["expected"], c["actual"])
        if not rule["conditions"]:
            table.add_row(MARKS[True], "(no condition)", "every response", "")
        console.print(table)
    a = found["actions"]
    console.print(f"[bold]actions[/bold] (rules matched: {', '.join(found['matched']) or 'none'})")
    lines = [
        f"priority {a['priority']}",
        f"tags {', '.join(a['tags']) or '—'}",
        f"events {', '.join(a['emit']) or '—'}",
    ]
    if found["category"] == "detractor":
        alert = ", ".join(f"{t['channel']}:{t['destination']}" for t in a["alert"]) or "nobody"
        lines.append(f"alert {alert}" + (" (instead of the profile's alerts)" if a["defaults_replaced"] else ""))
        sla = [
            f"claim within {_span(a['claim_within_seconds'])}",
            f"resolve within {_span(a['resolve_within_seconds'])}",
        ]
        lines.append(" · ".join(sla))
        if a["escalate_to"]:
            lines.append("escalate to " + ", ".join(f"{t['channel']}:{t['destination']}" for t in a["escalate_to"]))
    else:
        lines.append("no alert and no SLA: those are for detractors")
    for line in lines:
        console.print("  " + line, highlight=False, markup=False)
    return ""


def _span(seconds: float | None) -> str:
    return "—" if seconds is None else compact(timedelta(seconds=seconds))


def add_command(sub: Any, with_config: Any, load: Callable[[Any], Config]) -> None:
    """`npsbot rules test`, registered on the CLI's subcommands; `load` reads the -c file as every command does."""
    p = sub.add_parser("rules", help="routing rules: try the configuration's rules on stored responses")
    actions = p.add_subparsers(dest="rules_action", required=True)
    t = with_config(actions.add_parser("test", help="which rules match a response and why, and what they would do"))
    t.add_argument("--response", type=int, required=True, help="the response (survey) id")
    t.add_argument("--database", help="database URL (default: database_url from the config)")
    t.add_argument("--format", choices=["table", "json"], default="table")
    t.set_defaults(func=lambda args: cmd_rules_test(args, load))


def cmd_rules_test(args: Any, load: Callable[[Any], Config]) -> int:
    try:
        found = asyncio.run(rules_test(load(args), args.response, args.database))
    except RulesTestError as exc:
        print(f"npsbot rules test: {exc}", file=sys.stderr)
        return 2
    text = render(found, args.format)
    if text:
        sys.stdout.write(text + "\n")
    return 0
