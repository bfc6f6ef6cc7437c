"""`npsbot report` in its three formats, on a database filled through the service."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from rich.console import Console

from adapters.memory import MemoryChannel
from bots.cli import main
from bots.report_cli import run_report
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
    assert "NPS +25.0 ± " in out and "by agent" in out and "by team" in out and "(n<30)" in out
    assert "1 open" in out


def test_cli_entry_point(tmp_path, clock, capsys) -> None:
    from tests.conftest import run_sync

    url = run_sync(filled(tmp_path, clock))
    assert main(["report", "--database", str(url), "--format", "json", "--by", "team"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["breakdowns"]["team"][0]["key"] == "care"
