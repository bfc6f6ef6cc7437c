"""The follow-up SLA report in SQL on SQLite and PostgreSQL (breaches, escalations, time to claim and resolve as
median and p90 by team, agent and who claimed), its API and `npsbot report` section; and which rules match a
response and why, through `GET /api/v1/rules/test` (scoped like every endpoint) and `npsbot rules test`."""

from __future__ import annotations

import json
import statistics
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from adapters.memory import MemoryChannel
from bots.app import RUNTIME, create_app
from bots.cli import main
from bots.config import parse_config
from bots.report_cli import run_report
from bots.runtime import Runtime
from core import followup
from core.profiles import ProfileSettings
from core.reports.sla import sla_report
from core.reports.summary import Filters
from core.routing import Rule, Then, When
from core.service import SurveyService
from core.store import Store
from core.store.tables import SurveyRow
from core.survey import Policy
from tests.conftest import FakeClock, run_sync

MIN = 60
S = SurveyRow.__table__
SLA_RULE = Rule(
    "care and tech",
    When(category=("detractor",), team=("care", "tech")),
    Then(claim_within=timedelta(minutes=40), resolve_within=timedelta(hours=4)),
)


def p90(values: list[float]) -> float:
    """PostgreSQL's percentile_cont(0.9): linear between the closest ranks."""
    return statistics.quantiles(values, n=10, method="inclusive")[8] if len(values) > 1 else values[0]


async def seed_followups(store: Store, clock: FakeClock) -> dict[str, int]:
    """Ana (care) has three detractors: claimed after 10, 30 and 50 minutes (the SLA allows 40), resolved after 2 h
    and 5 h (4 h allowed) and not at all. Bo (tech) never claims his. Cy (sales) has no SLA, claimed after 20
    minutes. Everything completes at the same moment; the report is read 6 h later."""
    profiles = {"acme": ProfileSettings("acme", Policy(throttle=timedelta(0)), rules=(SLA_RULE,))}
    chat = MemoryChannel(SurveyService(store, profiles, clock), "acme")
    start = clock.now
    ids: dict[str, int] = {}
    for name, team, agent in [("a1", "care", "ana"), ("a2", "care", "ana"), ("a3", "care", "ana"),
                              ("b1", "tech", "bo"), ("c1", "sales", "cy"), ("p1", "care", "ana")]:  # fmt: skip
        ids[name] = (await chat.close(name, f"u-{name}", agent=agent, team=team)).survey.id
        await chat.tap(name, f"u-{name}", 10 if name == "p1" else 3)
        await chat.reply(name, f"u-{name}", "slow")
        clock.now = start
    for name, claim_after, resolve_after, who in [("a1", 10, 120, "lea"), ("a2", 30, 300, "lea"),
                                                  ("a3", 50, None, "max"), ("c1", 20, None, "max")]:  # fmt: skip
        await followup.claim(store, ids[name], who, start + timedelta(minutes=claim_after))
        if resolve_after is not None:
            await followup.resolve(store, ids[name], who, start + timedelta(minutes=resolve_after))
    clock.advance(hours=6)
    assert await SurveyService(store, profiles, clock).tick() == 3  # b1 claim, a3 and b1 resolve
    return ids


async def test_sla_report_in_sql(store: Store, clock: FakeClock) -> None:
    await seed_followups(store, clock)
    [total] = await sla_report(store, Filters(), clock.now)
    claims = [10 * MIN, 20 * MIN, 30 * MIN, 50 * MIN]
    assert total == {
        "detractors": 5,
        "with_sla": 4,
        "claim_breaches": 2,  # a3 claimed at 50 min, b1 never
        "resolve_breaches": 3,  # a2 resolved at 5 h, a3 and b1 not by 4 h
        "escalations": 3,
        "claimed": 4,
        "resolved": 2,
        "claim_median_seconds": statistics.median(claims),
        "claim_p90_seconds": pytest.approx(p90(claims)),
        "resolve_median_seconds": statistics.median([7200, 18000]),
        "resolve_p90_seconds": pytest.approx(p90([7200, 18000])),
    }
    by_agent = {r["key"]: r for r in await sla_report(store, Filters(), clock.now, "agent")}
    assert list(by_agent) == ["ana", "bo", "cy"]  # most detractors first
    ana = by_agent["ana"]
    assert (ana["detractors"], ana["claim_breaches"], ana["resolve_breaches"], ana["escalations"]) == (3, 1, 2, 1)
    assert ana["claim_median_seconds"] == 30 * MIN and ana["claim_p90_seconds"] == pytest.approx(46 * MIN)
    assert by_agent["bo"]["claim_median_seconds"] is None and by_agent["bo"]["escalations"] == 2
    assert (by_agent["cy"]["with_sla"], by_agent["cy"]["claim_breaches"]) == (0, 0)  # no SLA, no breach
    by_team = {r["key"]: r["with_sla"] for r in await sla_report(store, Filters(), clock.now, "team")}
    assert by_team == {"care": 3, "tech": 1, "sales": 0}
    by_claimer = {r["key"]: r["claimed"] for r in await sla_report(store, Filters(), clock.now, "claimed_by")}
    assert by_claimer == {"max": 2, "lea": 2, None: 0}
    [only_ana] = await sla_report(store, Filters(agent="ana"), clock.now)
    assert only_ana["detractors"] == 3
    [nobody] = await sla_report(store, Filters(agent="nobody"), clock.now)
    assert nobody["detractors"] == 0 and nobody["claim_median_seconds"] is None
    with pytest.raises(ValueError, match="unknown dimension"):
        await sla_report(store, Filters(), clock.now, "colour")


def app_config(db: str) -> dict[str, Any]:
    rules = [
        {"name": "vip", "when": {"metadata": {"plan": "vip"}}, "then": {"priority": "urgent", "stop": True}},
        {
            "name": "care and tech",
            "when": {"category": "detractor", "team": ["care", "tech"]},
            "then": {"claim_within": "40m", "resolve_within": "4h", "tags": ["sla"]},
        },
    ]
    acme = {
        "brand": "Acme",
        "api_tokens": ["acme-token-0123"],
        "policy": {"throttle": "0s"},
        "channels": {"memory": {}},
    }
    tapas = {"brand": "Tapas", "api_tokens": ["tapas-token-0123"], "channels": {"memory": {}}}
    return {
        "database_url": f"sqlite+aiosqlite:///{db}",
        "admin_tokens": ["admin-token-0123"],
        "profiles": {"acme": acme | {"rules": rules}, "tapas": tapas},
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(tmp_path: Path) -> Any:
    clock = FakeClock()
    runtime = Runtime(parse_config(app_config(str(tmp_path / "api.db")), env={}), clock=clock)
    await runtime.store.migrate()
    await seed_followups(runtime.store, clock)
    chat = MemoryChannel(runtime.service, "tapas")
    for conversation, steps in (("t1", [2, "cold food"]), ("t2", []), ("t3", [4])):
        await chat.close(conversation, f"u-{conversation}")
        for step in steps:
            await (chat.tap if isinstance(step, int) else chat.reply)(conversation, f"u-{conversation}", step)  # type: ignore[operator]
    async with TestClient(TestServer(create_app(runtime))) as c:
        yield c


async def test_sla_api_is_scoped(client: TestClient) -> None:
    body = await (await client.get("/api/v1/sla?by=team&by=agent", headers=bearer("admin-token-0123"))).json()
    assert body["summary"]["detractors"] == 6 and body["summary"]["with_sla"] == 4  # tapas' detractor counts
    assert {r["key"] for r in body["breakdowns"]["agent"]} == {"ana", "bo", "cy", None}
    acme = await (await client.get("/api/v1/sla?by=claimed_by", headers=bearer("acme-token-0123"))).json()
    assert acme["summary"]["detractors"] == 5 and list(acme["breakdowns"]) == ["claimed_by"]
    tapas = await (await client.get("/api/v1/sla", headers=bearer("tapas-token-0123"))).json()
    assert tapas["summary"]["detractors"] == 1 and tapas["summary"]["with_sla"] == 0
    assert list(tapas["breakdowns"]) == ["team", "agent"]
    assert (await client.get("/api/v1/sla?profile=acme", headers=bearer("tapas-token-0123"))).status == 403
    assert (await client.get("/api/v1/sla?by=colour", headers=bearer("admin-token-0123"))).status == 422
    assert (await client.get("/api/v1/sla?since=yesterday", headers=bearer("admin-token-0123"))).status == 400
    assert (await client.get("/api/v1/sla")).status == 401


async def test_rules_test_api(client: TestClient) -> None:
    async with client.server.app[RUNTIME].store.read() as conn:  # type: ignore[union-attr]
        rows = dict((await conn.execute(select(S.c.conversation_id, S.c.id))).all())
    admin = bearer("admin-token-0123")
    resp = await client.get(f"/api/v1/rules/test?response={rows['a1']}", headers=admin)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    # Stored: what the rules in force when it completed decided (the seed's, without tags); tested: today's.
    assert body["response"]["stored_priority"] == "normal" and body["response"]["stored_tags"] == []
    assert body["point"] == "completed" and body["matched"] == ["care and tech"]
    assert [(r["name"], r["outcome"]) for r in body["rules"]] == [("vip", "no_match"), ("care and tech", "matched")]
    assert body["rules"][0]["conditions"] == [
        {"condition": "metadata.plan", "expected": "vip", "actual": "(absent)", "result": False}
    ]
    assert body["rules"][1]["conditions"] == [
        {"condition": "category", "expected": "detractor", "actual": "detractor", "result": True},
        {"condition": "team", "expected": "care or tech", "actual": "care", "result": True},
    ]
    assert body["actions"]["claim_within_seconds"] == 2400 and body["actions"]["tags"] == ["sla"]
    acme_token = bearer("acme-token-0123")
    assert (await client.get(f"/api/v1/rules/test?response={rows['a1']}", headers=acme_token)).status == 200
    tapas_scored = rows["t3"]
    assert (await client.get(f"/api/v1/rules/test?response={tapas_scored}", headers=acme_token)).status == 404
    scored = await (await client.get(f"/api/v1/rules/test?response={tapas_scored}", headers=admin)).json()
    assert scored["point"] == "scored" and scored["rules"] == []  # tapas has no rules
    unanswered = await client.get(f"/api/v1/rules/test?response={rows['t2']}", headers=admin)
    assert unanswered.status == 422 and "no score" in (await unanswered.json())["error"]
    assert (await client.get("/api/v1/rules/test?response=999999", headers=admin)).status == 404
    assert (await client.get("/api/v1/rules/test", headers=admin)).status == 422
    assert (await client.get("/api/v1/rules/test?response=abc", headers=admin)).status == 422
    assert (await client.get(f"/api/v1/rules/test?response={rows['a1']}")).status == 401


def test_rules_test_cli_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = app_config(str(tmp_path / "cli.db"))
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")

    async def seed() -> dict[str, int]:
        clock = FakeClock()
        runtime = Runtime(parse_config(cfg, env={}), clock=clock)
        await runtime.store.migrate()
        try:
            return await seed_followups(runtime.store, clock)
        finally:
            await runtime.store.dispose()

    ids = run_sync(seed())
    capsys.readouterr()
    assert main(["rules", "test", "-c", str(path), "--response", str(ids["b1"])]) == 0
    out = capsys.readouterr().out
    assert "Routing rules for response" in out and "1. vip: no match" in out and "2. care and tech: matched" in out
    assert "✗ │ metadata.plan" in out and "✓ │ team" in out
    assert "claim within 40m · resolve within 4h" in out and "priority normal" in out

    assert main(["rules", "test", "-c", str(path), "--response", str(ids["p1"]), "--format", "json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["category"] == "promoter" and body["matched"] == []
    assert body["rules"][1]["conditions"][0]["result"] is False

    # A rule edited in the file is tried on the stored response before any server reloads it.
    cfg["profiles"]["acme"]["rules"].insert(0, {"name": "tech first", "when": {"team": "tech"}, "then": {"stop": True}})
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    assert main(["rules", "test", "-c", str(path), "--response", str(ids["b1"]), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["matched"] == ["tech first"]

    assert main(["rules", "test", "-c", str(path), "--response", "424242"]) == 2
    assert "no response 424242" in capsys.readouterr().err

    text = run_sync(
        run_report(
            cfg["database_url"], profile=None, since=None, until=None, by=[], bucket="week", fmt="json", minimum=5
        )
    )
    sla = json.loads(text)["follow_up_sla"]
    assert sla["summary"]["with_sla"] == 4 and {r["key"] for r in sla["by_team"]} == {"care", "tech", "sales"}
    assert main(["report", "-c", str(path), "--by", "team"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # as read, whatever the terminal's width
    assert "follow-up SLAs: 4 of 5 detractors had one · 2 claimed late · 3 resolved late · 3 escalations" in out
    assert "follow-up SLAs by agent" in out
