"""`npsbot report` in its three formats, on a database filled through the service."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from rich.console import Console

from adapters.memory import MemoryChannel
from bots.cli import main
from bots.report_cli import ReportError, run_report
from core.profiles import ProfileSettings
from core.service import SurveyService
from core.store import Store
from core.survey import Policy


async def filled(tmp_path, clock) -> str:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    store = Store(url)
    await store.migrate()
    service = SurveyService(store, {"acme": ProfileSettings("acme", Policy(throttle=timedelta(0)))}, clock)
    chat = MemoryChannel(service, "acme")
    for i, (score, agent) in enumerate([(10, "ana"), (9, "ana"), (4, "ben"), (8, "ben")]):
        await chat.close(f"c{i}", f"u{i}", agent=agent, team="care")
        await chat.tap(f"c{i}", f"u{i}", score)
        await chat.reply(f"c{i}", f"u{i}", f"because {i}")
    await store.dispose()
    return url


async def test_json_and_csv(tmp_path, clock) -> None:
    url = await filled(tmp_path, clock)
    data = json.loads(
        await run_report(url, profile="acme", since=None, until=None, by=["agent"], bucket="day", fmt="json", minimum=3)
    )
    assert data["summary"]["nps"] == 25.0 and data["summary"]["responses"] == 4
    rows = {r["key"]: r for r in data["breakdowns"]["agent"]}
    assert rows["ana"]["nps"] == 100.0 and rows["ben"]["nps"] == -50.0 and rows["ben"]["significant"] is False
    assert data["trend"][0]["responses"] == 4 and data["detractor_follow_up"]["open"] == 1
    text = await run_report(url, profile=None, since=None, until=None, by=[], bucket="week", fmt="csv", minimum=30)
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert sorted(int(r["score"]) for r in parsed) == [4, 8, 9, 10] and parsed[0]["comment"] == "because 3"


async def test_table(tmp_path, clock) -> None:
    url = await filled(tmp_path, clock)
    console = Console(record=True, width=140)
    await run_report(
        url, profile=None, since=None, until=None, by=["agent", "team"], bucket="week", fmt="table", minimum=30,
        console=console,
    )  # fmt: skip
    out = console.export_text()
    assert "NPS +25.0 ± 81.3 (n<30, not significant)" in out and "by agent" in out and "by team" in out
    [ana] = [line.split("│")[1:-1] for line in out.splitlines() if line.startswith("│") and "ana" in line]
    # two promoters and nothing else: no spread to estimate a margin from, so none is claimed (not "± 0.0")
    assert [c.strip() for c in ana] == ["ana", "2", "+100.0 ± n/a (n<30, not significant)", "2", "0", "0"]
    assert "1 open · 0 claimed · 0 resolved" in out
    console = Console(record=True, width=140)
    await run_report(
        url, profile=None, since=None, until=None, by=["agent"], bucket="week", fmt="table", minimum=2, console=console
    )
    flagged = [line for line in console.export_text().splitlines() if "not significant" in line]
    assert flagged == []  # each agent has 2 responses, the headline 4


def test_cli_entry_point(tmp_path, clock, capsys) -> None:
    from tests.conftest import run_sync

    url = run_sync(filled(tmp_path, clock))
    assert main(["report", "--database", str(url), "--format", "json", "--by", "team"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["breakdowns"]["team"][0]["key"] == "care"


async def test_every_filter(tmp_path, clock) -> None:
    url = await filled(tmp_path, clock)

    async def report(**kw: str) -> dict:
        args = {"profile": None, "since": None, "until": None, "by": ["agent"], "bucket": "week", "fmt": "json"}
        return json.loads(await run_report(url, minimum=30, **(args | kw)))  # type: ignore[arg-type]

    assert (await report(agent="ben"))["summary"]["responses"] == 2
    assert [r["key"] for r in (await report(agent="ben"))["breakdowns"]["agent"]] == ["ben"]
    assert (await report(team="care"))["summary"]["responses"] == 4
    assert (await report(team="sales"))["summary"]["responses"] == 0
    assert (await report(channel="memory"))["summary"]["responses"] == 4
    assert (await report(channel="slack"))["summary"]["responses"] == 0
    assert (await report(locale="en"))["summary"]["responses"] == 4
    assert (await report(locale="de"))["summary"]["responses"] == 0
    with pytest.raises(ReportError, match="no profile 'other'"):
        await report(profile="other")
    day = clock.now.date()
    assert (await report(since=day.isoformat()))["summary"]["responses"] == 4
    assert (await report(until=day.isoformat()))["summary"]["responses"] == 4  # a bare date includes its day
    assert (await report(until=(day - timedelta(days=1)).isoformat()))["summary"]["responses"] == 0
    assert (await report(until=clock.now.isoformat()))["summary"]["responses"] == 0  # a time is exclusive
    filtered = await report(agent="ana", since=day.isoformat())
    assert filtered["filters"]["agent"] == "ana" and filtered["summary"]["nps"] == 100.0
    csv_ben = await run_report(
        url, profile=None, since=None, until=None, by=[], bucket="week", fmt="csv", minimum=30, agent="ben"
    )
    assert sorted(int(r["score"]) for r in csv.DictReader(io.StringIO(csv_ben))) == [4, 8]


def test_cli_options_and_config_threshold(tmp_path, clock, capsys) -> None:
    from tests.conftest import run_sync

    url = str(run_sync(filled(tmp_path, clock)))
    cfg = tmp_path / "npsbot.yaml"
    cfg.write_text(
        f"database_url: {url}\nreport: {{min_responses: 2}}\nprofiles: {{acme: {{brand: Acme}}}}\n", encoding="utf-8"
    )
    args = ["report", "-c", str(cfg), "--format", "json", "--by", "agent", "--team", "care", "--locale", "en"]
    assert main([*args, "--channel", "memory", "--agent", "ana", "--bucket", "day"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["min_responses"] == 2 and out["breakdowns"]["agent"] == [out["breakdowns"]["agent"][0]]
    assert out["breakdowns"]["agent"][0]["significant"] is True and out["summary"]["responses"] == 2
    assert main([*args, "--min-responses", "3"]) == 0
    rows = json.loads(capsys.readouterr().out)["breakdowns"]["agent"]
    assert [r["significant"] for r in rows] == [False, False]
    assert main(["report", "--database", url, "--by", "agent,colour"]) == 2
    assert "colour" in capsys.readouterr().err
    assert main(["report", "--database", url, "--since", "last week"]) == 2
    assert "ISO" in capsys.readouterr().err
