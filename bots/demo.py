"""`npsbot demo`: the whole loop on the embedded default — SQLite, the in-process channel, a simulated clock."""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bots.config import parse_config
from bots.runtime import Runtime
from core.reports import breakdown, summary
from core.reports.summary import MIN_RESPONSES
from core.scoring import nps_from_scores
from core.service import utcnow

AGENTS = [("Ana", "billing"), ("Ben", "billing"), ("Carla", "tech"), ("Dmitri", "tech")]
LOCALES = ["en", "es", "ca", "it", "pt", "fr", "de"]
WORDS = {
    "en": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"],
    "es": ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez"],
    "ca": ["zero", "u", "dos", "tres", "quatre", "cinc", "sis", "set", "vuit", "nou", "deu"],
    "it": ["zero", "uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove", "dieci"],
    "pt": ["zero", "um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove", "dez"],
    "fr": ["zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix"],
    "de": ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn"],
}
COMMENTS = {
    "en": "Quick and friendly help",
    "es": "Me resolvieron el problema rápido",
    "ca": "Molt amables, gràcies",
    "it": "Risposta lenta ma corretta",
    "pt": "Atendimento excelente",
    "fr": "Le délai était trop long",
    "de": "Sehr hilfreich, danke",
}
JUNK = ["hmm", "7 or 8", "what?", "78", "not sure", "🤷"]
OPT_OUTS = {"en": "STOP", "es": "Baja", "ca": "prou", "it": "basta", "pt": "pare", "fr": "stop", "de": "Stopp"}
# How each agent's customers score 0..10 in this story: Carla delights, Dmitri struggles, so the breakdown differs.
SCORE_WEIGHTS = {
    "Ana": [1, 1, 1, 1, 1, 2, 3, 4, 5, 4, 3],
    "Ben": [1, 1, 1, 1, 1, 2, 2, 3, 4, 5, 5],
    "Carla": [0, 0, 0, 0, 1, 1, 1, 2, 4, 8, 9],
    "Dmitri": [3, 2, 3, 3, 3, 3, 3, 3, 2, 1, 1],
}

DEMO_CONFIG = {
    "database_url": "sqlite+aiosqlite:///demo.db",
    "profiles": {
        "acme": {
            "brand": "Acme Cloud",
            "locale": "en",
            "channels": {"memory": {}},
            "alerts": [{"channel": "memory", "destination": "support-leads"}],
            "policy": {"expiry": "24h", "comment_window": "1h", "throttle": "0s"},
        },
        "tapas": {
            "brand": "Tapas & Co",
            "locale": "es",
            "channels": {"memory": {}},
            "policy": {"expiry": "24h", "comment_window": "1h", "throttle": "0s"},
        },
    },
}


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Plan:
    conversation: str
    user: str
    profile: str
    locale: str
    agent: str
    team: str
    behaviour: str  # button | words | digits | junk_then_score | junk_twice | silent | opt_out
    score: int | None


def make_plans(n: int, rng: random.Random) -> list[Plan]:
    behaviours = ["button", "words", "digits", "junk_then_score", "button", "words", "junk_twice", "silent", "opt_out"]
    plans = []
    for i in range(n):
        locale = LOCALES[i % len(LOCALES)]
        agent, team = AGENTS[rng.randrange(len(AGENTS))]
        behaviour = behaviours[i % len(behaviours)]
        score = rng.choices(range(11), weights=SCORE_WEIGHTS[agent])[0]
        has_score = behaviour not in ("junk_twice", "silent", "opt_out")
        plans.append(
            Plan(
                f"conv-{i:03d}",
                f"cust-{i:03d}",
                "acme" if locale in ("en", "de", "fr", "it") else "tapas",
                locale,
                agent,
                team,
                behaviour,
                score if has_score else None,
            )
        )
    return plans


def _reply_text(plan: Plan, rng: random.Random) -> str:
    assert plan.score is not None
    if plan.behaviour == "words":
        return WORDS[plan.locale][plan.score].capitalize() + "!"
    forms = [f"{plan.score}", f"{plan.score}/10", f"I'd say {plan.score}", f"{plan.score}!!", f"nota: {plan.score}"]
    return rng.choice(forms)


async def run_demo(conversations: int = 42, seed: int = 7, database_url: str | None = None) -> dict[str, object]:
    console = Console()
    rng = random.Random(seed)
    workdir = Path(tempfile.mkdtemp(prefix="npsbot-demo-"))
    cfg = dict(DEMO_CONFIG, database_url=database_url or f"sqlite+aiosqlite:///{workdir / 'demo.db'}")
    clock = Clock(utcnow())
    runtime = Runtime(parse_config(cfg, env={}), clock=clock)
    await runtime.store.migrate()
    channels = {p: runtime.channel("memory", p).memory for p in runtime.profiles}  # type: ignore[attr-defined]
    plans = make_plans(conversations, rng)
    console.print(
        f"Simulating {len(plans)} closed support conversations in {len({p.locale for p in plans})} languages "
        f"through the in-process channel, on {'SQLite' if runtime.store.is_sqlite else 'PostgreSQL'}: "
        "customers tap a button, type a score in words or digits, "
        "send junk first, opt out, or never answer. A few transcripts, then the report."
    )

    for plan in plans:
        await channels[plan.profile].close(
            plan.conversation, plan.user, agent=plan.agent, team=plan.team, locale=plan.locale
        )
    await runtime.worker.drain()

    for plan in plans:
        ch = channels[plan.profile]
        if plan.behaviour == "button":
            await ch.tap(plan.conversation, plan.user, plan.score)  # type: ignore[arg-type]
        elif plan.behaviour in ("words", "digits"):
            await ch.reply(plan.conversation, plan.user, _reply_text(plan, rng))
        elif plan.behaviour == "junk_then_score":
            await ch.reply(plan.conversation, plan.user, rng.choice(JUNK))
            await ch.reply(plan.conversation, plan.user, _reply_text(plan, rng))
        elif plan.behaviour == "junk_twice":
            await ch.reply(plan.conversation, plan.user, "7 or 8")
            await ch.reply(plan.conversation, plan.user, "depends on the day")
        elif plan.behaviour == "opt_out":
            await ch.reply(plan.conversation, plan.user, OPT_OUTS[plan.locale])
        if plan.score is not None and rng.random() < 0.75:
            await ch.reply(plan.conversation, plan.user, COMMENTS[plan.locale])
    await runtime.worker.drain()

    clock.now += timedelta(days=2)  # comment windows close, silent surveys expire
    await runtime.worker.drain()

    _print_transcripts(console, channels, plans)
    total = await summary(runtime.store)
    by_agent = await breakdown(runtime.store, "agent")
    _print_report(console, total, by_agent, await breakdown(runtime.store, "locale"))
    # The check: what the database reports must be what the simulated customers meant to give.
    answered = [p for p in plans if p.score is not None]
    expected = nps_from_scores([p.score for p in answered])  # type: ignore[misc]
    expected_by_agent = {
        agent: nps_from_scores([p.score for p in answered if p.agent == agent])  # type: ignore[misc]
        for agent in sorted({p.agent for p in answered})
    }
    reported_by_agent = {str(key): s.result for key, s in by_agent}
    ok_total = total.result == expected
    ok_agents = reported_by_agent == expected_by_agent
    console.print(
        f"check: NPS from the database {total.result.format()} "
        f"{'matches' if ok_total else 'DOES NOT MATCH'} the simulated customers' scores {expected.format()}; "
        f"by agent {'matches' if ok_agents else 'DOES NOT MATCH'} too"
    )
    await runtime.stop()
    return {
        "summary": total,
        "expected": expected,
        "by_agent": reported_by_agent,
        "expected_by_agent": expected_by_agent,
        "plans": plans,
        "ok": ok_total and ok_agents,
    }


def _print_transcripts(console: Console, channels: dict, plans: list[Plan]) -> None:
    shown = {p.behaviour: p for p in plans if p.locale != "en"}
    for plan in [shown.get("words"), shown.get("junk_then_score"), shown.get("opt_out")]:
        if plan is None:
            continue
        console.rule(f"{plan.conversation} · {plan.locale} · {plan.behaviour} · agent {plan.agent}")
        for d in channels[plan.profile].inbox(plan.conversation):
            console.print(f"  [bold]{d.kind:>13}[/bold]  {d.payload.get('text', '')}")


def _print_report(console: Console, total, by_agent, by_locale) -> None:
    r = total.result
    console.rule("Customer Feedback Report")
    rate = "n/a" if total.response_rate is None else f"{total.response_rate:.0%}"
    console.print(
        f"[bold]{r.format()}[/bold]   promoters {r.promoters} · passives {r.passives} · "
        f"detractors {r.detractors} · asked {total.asked} · response rate {rate}"
    )
    for title, rows in (("by agent", by_agent), ("by locale", by_locale)):
        table = Table(title=title)
        for col in (title.split()[-1], "responses", "NPS", "± margin", "promoters", "passives", "detractors"):
            table.add_column(col, justify="right")
        for key, s in rows:
            sr = s.result
            table.add_row(
                str(key),
                str(s.responses),
                ("n/a" if sr.nps is None else f"{sr.nps:+.1f}") + ("" if s.significant() else " *"),
                "n/a" if sr.margin is None else f"{sr.margin:.1f}",
                str(sr.promoters),
                str(sr.passives),
                str(sr.detractors),
            )
        console.print(table)
    console.print(f"* fewer than {MIN_RESPONSES} responses: shown, but not statistically significant")
