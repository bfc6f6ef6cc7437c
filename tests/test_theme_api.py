"""Comment themes through the operator API, the dashboard's data and the CLI: scoped by token, filtered like every
report, discovery on request, rebuild and report in the terminal."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from aiohttp.test_utils import TestClient

from bots.cli import main
from bots.config import parse_config
from bots.runtime import Runtime
from core.types import Address, ConversationClosed, ScoreGiven, TextReceived
from tests.live import served

ADMIN, ACME, TAPAS = "themes-admin-token", "themes-acme-token", "themes-tapas-token"
THEMES = {
    "billing": {"en": ["charge", "invoice", "refund"], "es": ["cobro", "factura"]},
    "speed": {"en": ["slow", "waiting time"]},
    "unused": {"en": ["parrot"]},
}
# (score, comment, locale): billing pulls the NPS down, speed is mixed, the rest recur without a theme.
ANSWERS = [
    (2, "They charged me twice", "en"),
    (3, "Wrong invoice again", "en"),
    (1, "Me cobraron dos veces", "es"),
    (9, "Refund came quickly", "en"),
    (6, "Slow answers", "en"),
    (10, "Not slow at all", "en"),
    (8, "Password reset email never arrived", "en"),
    (7, "the password reset email is broken", "en"),
    (10, "Lovely people", "en"),
    (9, None, "en"),
]
BASE = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=14)


def config(db: str, themes: dict = THEMES) -> dict:
    return {
        "database_url": f"sqlite:///{db}",
        "admin_tokens": [ADMIN],
        "report": {"min_responses": 3},
        "profiles": {
            "acme": {"brand": "Acme", "api_tokens": [ACME], "policy": {"throttle": "0s"}, "channels": {"memory": {}},
                     "themes": themes},
            "tapas": {"brand": "Tapas", "api_tokens": [TAPAS], "policy": {"throttle": "0s"},
                      "channels": {"memory": {}}},
        },
    }  # fmt: skip


async def seed(runtime: Runtime) -> None:
    service = runtime.service
    for i, (score, comment, locale) in enumerate(ANSWERS):
        service.clock = lambda i=i: BASE + timedelta(days=7 * (i % 2))
        address = Address("memory", "acme", f"c{i}", f"u{i}")
        await service.handle(ConversationClosed(address, agent="ana", locale=locale))
        await service.handle(ScoreGiven(address, score))
        if comment:
            await service.handle(TextReceived(address, comment))
    address = Address("memory", "tapas", "t1", "t1")
    await service.handle(ConversationClosed(address, locale="en"))
    await service.handle(ScoreGiven(address, 0))
    await service.handle(TextReceived(address, "refund refused"))


@pytest.fixture
async def client(tmp_path):
    async with served(config(str(tmp_path / "t.db")), seed) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def get(client: TestClient, path: str, token: str = ADMIN, status: int = 200) -> dict:
    resp = await client.get(path, headers=bearer(token))
    assert resp.status == status, await resp.text()
    return await resp.json()


async def test_themes_endpoint(client: TestClient) -> None:
    assert (await client.get("/api/v1/themes")).status == 401
    body = await get(client, "/api/v1/themes?profile=acme&bucket=week")
    rows = {r["theme"]: r for r in body["themes"]}
    assert list(rows) == ["billing", "speed", "unused"]  # most mentioned first; a configured theme shows at 0
    billing = rows["billing"]
    assert (billing["mentions"], billing["detractors"], billing["promoters"]) == (4, 3, 1)
    assert billing["nps"] == -50.0 and billing["significant"] is True and billing["margin"] > 0
    # 10 responses: NPS (4 − 4) / 10 = 0; without billing's 4 the other 6 score (3 − 1) / 6 = +33.33
    assert body["summary"]["nps"] == 0.0 and billing["nps_without"] == 33.33 and billing["impact"] == -33.33
    assert billing["share"] == {"detractor": 0.75, "passive": 0.0, "promoter": 0.3333}  # of 4 D, 2 Pa, 3 P comments
    assert rows["unused"]["mentions"] == 0 and rows["unused"]["impact"] == 0.0
    assert sum(p["mentions"] for p in body["trend"]["billing"]) == 4 and len(body["trend"]["billing"]) == 2
    assert body["bucket"] == "week" and body["min_responses"] == 3
    scoped = await get(client, "/api/v1/themes", token=ACME)
    assert {r["theme"]: r["mentions"] for r in scoped["themes"]}["billing"] == 4  # tapas' refund is not acme's
    everyone = await get(client, "/api/v1/themes")
    assert {r["theme"]: r["mentions"] for r in everyone["themes"]}["billing"] == 4  # tapas has no themes
    assert (await client.get("/api/v1/themes?profile=tapas", headers=bearer(ACME))).status == 403
    assert (await client.get("/api/v1/themes?profile=nope", headers=bearer(ADMIN))).status == 404
    assert (await client.get("/api/v1/themes?since=soon", headers=bearer(ADMIN))).status == 400
    assert (await client.get("/api/v1/themes?bucket=year", headers=bearer(ADMIN))).status == 422
    late = await get(client, f"/api/v1/themes?profile=acme&since={(BASE + timedelta(days=7)).date()}")
    assert {r["theme"]: r["mentions"] for r in late["themes"]}["billing"] == 2  # the odd answers, a week later
    nps = await get(client, "/api/v1/nps?profile=acme&by=theme")
    assert nps["by"] == "theme" and {r["key"]: r["impact"] for r in nps["breakdown"]}["billing"] == -33.33


async def test_discover_endpoint(client: TestClient) -> None:
    assert (await client.get("/api/v1/themes/discover?profile=acme")).status == 401
    missing = await get(client, "/api/v1/themes/discover", status=422)
    assert "profile" in missing["error"]
    body = await get(client, "/api/v1/themes/discover?profile=acme&limit=5")
    assert body["unmatched_comments"] == 3 and body["read"] == 3
    top = body["phrases"][0]
    assert top["phrase"] == "password reset email" and top["comments"] == 2 and len(top["examples"]) == 2
    assert (await client.get("/api/v1/themes/discover?profile=acme", headers=bearer(TAPAS))).status == 403
    assert (await client.get("/api/v1/themes/discover?profile=acme&limit=0", headers=bearer(ADMIN))).status == 422
    page = await get(client, "/report/themes/discover.json?bucket=week&search=&theme=", token=ACME)  # its one profile
    assert page["profile"] == "acme" and page["phrases"][0]["phrase"] == "password reset email"
    assert (await client.get("/report/themes/discover.json", headers=bearer(ADMIN))).status == 422  # pick one
    assert (await client.get("/report/themes/discover.json")).status == 401


async def test_dashboard_data_filters_comments_by_theme(client: TestClient) -> None:
    data = await get(client, "/report/data.json?profile=acme&theme=billing")
    assert sorted(c["comment"] for c in data["comments"]) == sorted(
        ["They charged me twice", "Wrong invoice again", "Me cobraron dos veces", "Refund came quickly"]
    )
    assert data["themes"]["themes"][0]["theme"] == "billing" and "billing" in data["themes"]["trend"]
    everything = await get(client, "/report/data.json?profile=acme&theme=")
    assert len(everything["comments"]) == 9


def run_cli(*argv: str) -> int:
    return main(list(argv))


def test_cli_rebuild_discover_and_report(tmp_path, capsys) -> None:
    db = str(tmp_path / "cli.db")

    async def fill() -> None:  # the comments arrive while the profile has no themes yet
        runtime = Runtime(parse_config(config(db, themes={}), env={}))
        await runtime.store.migrate()
        await seed(runtime)
        await runtime.store.dispose()

    asyncio.run(fill())
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config(db)), encoding="utf-8")
    assert run_cli("report", "-c", str(path), "--by", "theme", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["themes"] == []  # nothing assigned yet
    assert run_cli("themes", "rebuild", "-c", str(path)) == 0
    out = capsys.readouterr().out
    assert "acme: 9 comments read, 6 mention a theme, 6 theme mentions stored" in out
    assert "tapas: 1 comments read, 0 mention a theme" in out  # tapas has no taxonomy
    assert run_cli("themes", "rebuild", "-c", str(path), "--profile", "acme") == 0  # again: the same
    assert "acme: 9 comments read, 6 mention a theme, 6 theme mentions stored" in capsys.readouterr().out
    assert run_cli("report", "-c", str(path), "--profile", "acme", "--by", "theme,agent", "--format", "json") == 0
    report = json.loads(capsys.readouterr().out)
    assert {r["theme"]: r["impact"] for r in report["themes"]}["billing"] == -33.33 and "agent" in report["breakdowns"]
    assert run_cli("report", "-c", str(path), "--profile", "acme", "--by", "theme") == 0
    table = capsys.readouterr().out
    assert "by theme" in table and "billing" in table and "-33.3" in table
    assert run_cli("themes", "discover", "-c", str(path), "--profile", "acme", "--format", "json") == 0
    found = json.loads(capsys.readouterr().out)
    assert found["phrases"][0]["phrase"] == "password reset email" and found["unmatched_comments"] == 3
    assert run_cli("themes", "discover", "-c", str(path), "--profile", "acme") == 0
    assert "password reset email" in capsys.readouterr().out
    assert run_cli("themes", "discover", "-c", str(path)) == 2
    assert "--profile is required" in capsys.readouterr().err
    assert run_cli("themes", "rebuild", "-c", str(path), "--profile", "nope") == 2
    assert "no profile 'nope'" in capsys.readouterr().err
    assert run_cli("report", "-c", str(path), "--by", "mood") == 2
    assert ",theme" in capsys.readouterr().err.split("choose from ")[1]


def test_check_config_names_each_theme_problem(tmp_path, capsys) -> None:
    bad = config(str(tmp_path / "x.db"), themes={"billing": {"xx": ["a"], "en": []}, "Billing!": {"en": ["x"]}})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad), encoding="utf-8")
    with pytest.raises(SystemExit) as exit_:
        run_cli("check-config", "-c", str(path))
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "profiles.acme.themes.billing.xx: unknown language 'xx'" in err
    assert "profiles.acme.themes.billing.en: expected a non-empty list of keywords" in err
    assert "profiles.acme.themes.Billing!: theme names are lowercase letters" in err


def test_the_demo_shows_themes_and_checks_them(tmp_path, capsys) -> None:
    from bots.demo import run_demo

    result = asyncio.run(run_demo(conversations=30, seed=3, database_url=f"sqlite:///{tmp_path / 'demo.db'}"))
    assert result["ok"] and result["themes"] == result["expected_themes"]
    assert set(result["themes"]) == {"billing", "wait", "staff"} and all(result["themes"].values())
    out = capsys.readouterr().out
    assert "by comment theme" in out and "theme mentions match the comments they wrote" in out
