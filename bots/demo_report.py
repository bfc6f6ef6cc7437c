"""What `npsbot demo` prints after the run: transcripts from the platform stand-ins, the detractor alerts, and the
Customer Feedback Report."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from bots.demo_story import Plan
from bots.sandbox.customers import clip
from core.reports import Summary
from core.reports.summary import MIN_RESPONSES

TITLES = {"telegram": "Telegram", "slack": "Slack", "webhook": "Webhook bridge", "whatsapp": "WhatsApp",
          "instagram": "Instagram"}  # fmt: skip


def print_transcript(console: Console, plan: Plan, lines: Sequence[str]) -> None:
    console.rule(
        f"{TITLES[plan.channel]} · {plan.conversation} · {plan.locale} · {plan.behaviour} · agent {plan.agent.name}"
    )
    for line in lines:
        for i, part in enumerate(line.split("\n")):
            indent = "  " if i == 0 else "    "
            console.print(indent + clip(part, console.width - len(indent)), markup=False, highlight=False, emoji=False)


def print_alerts(console: Console, alerts: Sequence[Any], channel: str, expected: int) -> None:
    """Detractor alerts as the Slack stand-in received them (chat.postMessage with Block Kit)."""
    console.rule("Detractor alerts in the support team's Slack channel")
    one_each = "one per detractor" if len(alerts) == expected else f"but {expected} detractors"
    console.print(f"{len(alerts)} chat.postMessage calls to {channel}, {one_each}. For example:", highlight=False)
    if not alerts:
        return
    examples = [(a, _fields(a.params.get("blocks") or [])) for a in alerts]
    alert, fields = examples[0]
    buttons = [e["text"]["text"] for b in alert.params.get("blocks") or [] if b.get("type") == "actions"
               for e in b["elements"]]  # fmt: skip
    width = console.width - 1
    text = textwrap.fill(
        f'"{alert.params.get("text")}"', width, initial_indent="  ← chat.postMessage ", subsequent_indent="    "
    )
    console.print(text, markup=False, highlight=False)
    console.print("    " + clip(" · ".join(fields), width - 4), markup=False, highlight=False)
    console.print("    " + " ".join(f"[{b}]" for b in buttons), markup=False, highlight=False)


def _fields(blocks: Sequence[dict[str, Any]]) -> list[str]:
    """Block Kit fields ("*Score*\\n3/10") as plain "Score 3/10"."""
    return [f["text"].replace("*", "").replace("\n", " ") for b in blocks for f in b.get("fields", [])] or [""]


def print_report(
    console: Console,
    total: Summary,
    breakdowns: Mapping[str, Sequence[tuple[str | None, Summary]]],
) -> None:
    r = total.result
    console.rule("Customer Feedback Report")
    rate = "n/a" if total.response_rate is None else f"{total.response_rate:.0%}"
    console.print(f"[bold]{r.format()}[/bold]   response rate {rate} ({r.responses} answered of {total.asked} asked)")
    console.print(f"promoters {r.promoters} · passives {r.passives} · detractors {r.detractors}")
    for dimension, rows in breakdowns.items():
        table = Table(title=f"by {dimension}")
        for col in (dimension, "responses", "NPS ± margin", "promoters", "passives", "detractors"):
            table.add_column(col, justify="right")
        for key, s in rows:
            sr = s.result
            nps = "n/a" if sr.nps is None else f"{sr.nps:+.1f}"
            margin = "" if sr.nps is None else " ± n/a" if sr.margin is None else f" ± {sr.margin:.1f}"
            table.add_row(
                str(key),
                str(s.responses),
                nps + margin + ("" if s.significant() else " *"),
                str(sr.promoters),
                str(sr.passives),
                str(sr.detractors),
            )
        console.print(table)
    console.print(f"* fewer than {MIN_RESPONSES} responses: shown, but not statistically significant")


def print_themes(console: Console, figures: Sequence[Any]) -> None:
    """Driver impact of the comment themes (core/reports/themes.py): mentions, their NPS, and the points each
    moves the overall NPS."""
    table = Table(title="by comment theme")
    for col in ("theme", "mentions", "of detractor comments", "NPS ± margin", "impact on NPS"):
        table.add_column(col, justify="right")
    for f in figures:
        m, share = f.mentions, f.share("detractor")
        nps = "n/a" if m.nps is None else f"{m.nps:+.1f}" + (" ± n/a" if m.margin is None else f" ± {m.margin:.1f}")
        impact = "n/a" if f.impact is None else f"{f.impact:+.1f}"
        table.add_row(f.theme, str(m.responses), "n/a" if share is None else f"{share:.0%}", nps, impact)
    console.print(table)
