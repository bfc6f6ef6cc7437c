"""The demo's twelve weeks and its follow-up: the support leads who claim alerts in Slack (all but one, which the
SLA escalates to the head of support), the story the weeks tell (a complaint that rises, an agent who improves),
and what the demo prints and checks about both."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from bots.demo_story import WEEKS, Plan, by_week
from bots.sandbox.customers import Person, SlackCustomers, clip
from bots.sandbox.slack_api import FakeSlack
from core.reports import Filters, breakdown, summary
from core.reports.responses import get_response
from core.reports.sla import sla_report
from core.reports.themes import theme_figures
from core.scoring import nps_from_scores
from core.store import Store

HEAD = "C0HEADOFSUPPORT"  # where a detractor nobody claimed in time is escalated
LEAD = Person("U0LEA00001", "Lea", team="support leads")  # claims the alerts within the hour, resolves them next day
# Billing complaints are urgent and tagged; every detractor must be claimed within 2 hours, or the head of support is
# pinged. The leads miss one alert, and the demo's clock runs past its deadline.
RULES: list[dict[str, Any]] = [
    {"name": "billing", "when": {"themes": ["billing"]}, "then": {"priority": "urgent", "tags": ["billing"]}},
    {
        "name": "claim within 2h",
        "when": {"category": "detractor"},
        "then": {"claim_within": "2h", "escalate_to": [{"channel": "slack", "destination": HEAD}]},
    },
]
PERIOD = 4  # weeks per row of the story table


def slipped(weeks: list[list[Plan]]) -> Plan | None:
    """The detractor whose alert the leads miss: the first one in the latest week but one that has any."""
    for week in reversed(weeks[:-1]):
        for plan in week:
            if plan.score is not None and plan.score <= 6:
                return plan
    return None


def posted(slack: FakeSlack, channel: str) -> list[tuple[int, Any]]:
    """(survey id, chat.postMessage call) of each detractor alert posted to `channel`."""
    out = []
    for call in slack.of("chat.postMessage"):
        if call.params.get("channel") != channel:
            continue
        values = [e["value"] for b in call.params.get("blocks") or [] if b.get("type") == "actions"
                  for e in b["elements"] if e.get("action_id") == "nps_claim"]  # fmt: skip
        if values:
            out.append((int(values[0]), call))
    return out


@dataclass
class Leads:
    """The support leads in their Slack channel: each new detractor alert is claimed within the hour and resolved
    the next day, except the one that slips through, claimed only after its escalation."""

    driver: SlackCustomers
    slack: FakeSlack
    store: Store
    channel: str
    slipped: str | None  # the conversation whose alert is missed
    claimed: set[int] = field(default_factory=set)
    resolved: set[int] = field(default_factory=set)

    async def claim_new(self) -> None:
        escalated = {sid for sid, _ in posted(self.slack, HEAD)}
        for sid, alert in posted(self.slack, self.channel):
            if sid in self.claimed:
                continue
            found = await get_response(self.store, sid)
            if found is not None and found["conversation_id"] == self.slipped and sid not in escalated:
                continue
            await self.driver.follow_up(alert, LEAD, "nps_claim")
            self.claimed.add(sid)

    async def resolve_claimed(self) -> None:
        for sid, alert in posted(self.slack, self.channel):
            if sid in self.claimed and sid not in self.resolved:
                await self.driver.follow_up(alert, LEAD, "nps_resolve")
                self.resolved.add(sid)


def _periods(start: datetime) -> list[tuple[int, datetime, datetime]]:
    return [(w, start + timedelta(weeks=w), start + timedelta(weeks=w + PERIOD)) for w in range(0, WEEKS, PERIOD)]


async def story(store: Store, start: datetime, agent: str) -> list[dict[str, Any]]:
    """Per four weeks, from the database: responses and NPS, the share of detractor comments mentioning billing and
    waiting, and `agent`'s NPS."""
    rows = []
    for week, since, until in _periods(start):
        f = Filters(since=since, until=until)
        themes = {t.theme: t.share("detractor") for t in await theme_figures(store, f, themes=["billing", "wait"])}
        agents = {key: s.result for key, s in await breakdown(store, "agent", f) if s.responses}
        rows.append(
            {
                "weeks": f"{week + 1}–{week + PERIOD}",
                "nps": (await summary(store, f)).result,
                "billing": themes.get("billing"),
                "wait": themes.get("wait"),
                "agent": agents.get(agent),
            }
        )
    return rows


def expected_story(plans: list[Plan], agent: str) -> list[tuple[Any, Any]]:
    """The same periods' NPS and `agent`'s NPS, from what the simulated customers meant to give."""
    out = []
    for week, _, _ in _periods(datetime.min):
        those = [p for p in plans if p.score is not None and week <= (p.week or 0) < week + PERIOD]
        mine = [p.score for p in those if p.agent_key == agent]
        out.append((nps_from_scores([p.score for p in those]), nps_from_scores(mine) if mine else None))  # type: ignore[misc]
    return out


def _nps(result: Any) -> str:
    return "n/a" if result is None or result.nps is None else f"{result.nps:+.0f} (n={result.responses})"


def print_story(console: Console, rows: list[dict[str, Any]], agent: str, weekly: list[tuple[str, Any]]) -> None:
    console.rule("Twelve weeks")
    console.print(
        "NPS by week: " + " · ".join(f"{period[5:]} {_nps(s.result)}" for period, s in weekly), highlight=False
    )
    table = Table(title="the story: a rising complaint, an agent who improves")
    for col in ("weeks", "NPS", "detractor comments on billing", "on waiting", f"{agent}'s NPS"):
        table.add_column(col, justify="right")
    for r in rows:
        share = ["n/a" if r[k] is None else f"{r[k]:.0%}" for k in ("billing", "wait")]
        table.add_row(r["weeks"], _nps(r["nps"]), *share, _nps(r["agent"]))
    console.print(table)


async def sla_figures(store: Store, now: datetime) -> dict[str, Any]:
    [total] = await sla_report(store, Filters(), now)
    return total


def print_escalations(console: Console, escalations: list[Any], sla: dict[str, Any]) -> None:
    console.rule("Follow-up SLA: claimed within 2 hours, or escalated")
    claim = sla["claim_median_seconds"]
    console.print(
        f"{sla['claimed']} of {sla['detractors']} detractor alerts claimed by the leads in Slack, median "
        f"{'n/a' if claim is None else f'{claim / 60:.0f} min'} after the alert; {sla['claim_breaches']} claimed "
        f"late; {len(escalations)} escalated to {HEAD}:",
        highlight=False,
    )
    for _, call in escalations:
        for part in str(call.params.get("text")).split("\n"):
            console.print("  ← " + clip(part, console.width - 4), markup=False, highlight=False)


def weeks_of(plans: list[Plan]) -> list[list[Plan]]:
    """Each week's plans (see bots.demo_story.by_week)."""
    return by_week(plans)
