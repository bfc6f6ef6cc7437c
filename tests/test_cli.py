"""The `npsbot` command as an operator runs it: demo, migrate, check-config and run."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml
from sqlalchemy import inspect

from bots.cli import main
from bots.demo import run_demo
from core.scoring import nps_from_scores
from core.store import Store
from tests.conftest import PG_ADMIN, _admin, run_sync

ROOT = Path(__file__).resolve().parent.parent


def write_config(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_demo_prints_a_correct_nps(tmp_path: Path, capsys) -> None:
    result = run_sync(run_demo(conversations=30, seed=3, database_url=f"sqlite:///{tmp_path / 'demo.db'}"))
    out = capsys.readouterr().out
    assert result["ok"] is True and result["summary"].result == result["expected"]
    assert "Customer Feedback Report" in out and "by agent" in out and "by channel" in out and "matches" in out
    assert "DOES NOT MATCH" not in out


async def _demo_leaving_nothing_behind(**kwargs: object) -> dict:
    """The demo, then a look at what it left in its event loop."""
    result = await run_demo(**kwargs)  # type: ignore[arg-type]
    await asyncio.sleep(0)
    leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert leftover == [], leftover
    return result


def test_demo_drives_the_real_adapters_and_its_numbers_are_the_customers(tmp_path: Path, capsys) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    result = run_sync(_demo_leaving_nothing_behind(conversations=30, seed=7, database_url=db))
    out = capsys.readouterr().out
    flat = out.replace("\n", " ")
    plans = result["plans"]
    # a few dozen conversations in seven languages on three channels, answered every way the issue lists, then a
    # few on WhatsApp and Instagram (30: each of the ten behaviours once on each channel)
    assert len([p for p in plans if p.channel in ("telegram", "slack", "webhook")]) == 30
    assert len({p.locale for p in plans}) == 7
    assert {p.channel for p in plans} == {"telegram", "slack", "webhook", "whatsapp", "instagram"}
    behaviours = {"button", "words", "digits", "keycap", "fullwidth", "junk_then_score", "silent", "opt_out"}
    for channel in ("telegram", "slack", "webhook"):
        assert {p.behaviour for p in plans if p.channel == channel} >= behaviours, channel
    # recomputed here from the plans, independently of the demo's own check
    answered = [p for p in plans if p.score is not None]
    assert result["summary"].result == nps_from_scores([p.score for p in answered])
    assert result["summary"].asked == len(plans)  # every conversation was asked, the silent ones too
    for agent in {p.agent_key for p in plans}:
        mine = [p.score for p in answered if p.agent_key == agent]
        assert result["by_agent"][agent] == nps_from_scores(mine), agent
        assert f" {agent} │" in out  # printed in the by-agent table
    assert set(result["by_channel"]) == {"telegram", "slack", "webhook", "whatsapp", "instagram"}
    for channel in ("telegram", "slack", "webhook", "whatsapp", "instagram"):
        mine = [p.score for p in answered if p.channel == channel]
        assert result["by_channel"][channel] == nps_from_scores(mine), channel
        assert f" {channel} │" in out  # printed in the by-channel table
    assert " * │" in out and "fewer than 30 responses" in out  # the not-significant marker and its footnote
    assert result["summary"].result.format() in flat
    # the fakes recorded real platform calls, made by the real adapters
    tg, slack, bridge = result["calls"]["telegram"], result["calls"]["slack"], result["calls"]["bridge"]
    assert tg["sendMessage"] >= 10 and tg["answerCallbackQuery"] >= 1 and tg["editMessageReplyMarkup"] >= 1
    assert slack["chat.postMessage"] >= 10 and slack["chat.update"] >= 1 and slack["users.info"] >= 1
    assert slack["response_url"] >= 1 and slack["conversations.replies"] >= 1  # /nps-close and the ✅ reaction
    assert bridge["question"] == 10 and bridge["follow_up"] >= 1 and bridge["question_answered"] >= 1
    graph = result["calls"]["graph"]  # WhatsApp: the list, a template outside the window; Instagram's quick replies
    assert graph["106540352242922:interactive"] >= 7 and graph["106540352242922:template"] >= 1
    assert graph["17841405822304914:message"] >= 3
    # one alert per detractor in the support team's channel, and an example printed
    assert result["alerts"] == sum(1 for p in answered if p.score <= 6) > 0
    assert "← chat.postMessage" in out and "[Claim] [Resolved]" in out
    # transcripts of what the fakes recorded, one per channel
    assert "← sendMessage" in out and "→ callback_query" in out and "← deliver question" in out
    assert "→ message from" in out and "in the thread" in out
    # every server the demo started is gone
    for port in result["ports"]:
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            pass


def test_demo_is_deterministic_for_a_seed(tmp_path: Path, capsys) -> None:
    outs = []
    for run in range(2):
        run_sync(run_demo(conversations=12, seed=5, database_url=f"sqlite:///{tmp_path / f'd{run}.db'}"))
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1]


def test_demo_command_from_any_directory_is_quiet_and_leaves_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "bots.cli", "demo", "--conversations", "14"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "by agent matches too" in proc.stdout.replace("\n", " ")
    assert proc.stderr == ""  # no access logs, no migration logs, no warnings
    assert list(tmp_path.iterdir()) == []  # the database went to a temp dir


def test_migrate_and_check_config(tmp_path: Path, capsys) -> None:
    db = tmp_path / "cli.db"
    cfg = write_config(
        tmp_path / "npsbot.yaml",
        {"database_url": f"sqlite:///{db}", "profiles": {"acme": {"brand": "A", "channels": {"memory": {}}}}},
    )
    assert main(["check-config", "-c", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "profile acme: channels memory, locale en" in out and "configuration OK" in out
    assert main(["migrate", "-c", str(cfg)]) == 0 and db.exists()
    assert main(["migrate", "-c", str(cfg)]) == 0  # a second run is a no-op
    tables = run_sync(_tables(f"sqlite:///{db}"))
    assert {"surveys", "contacts", "inbound_keys", "outbox", "alembic_version"} <= tables


def test_check_config_reports_every_problem_with_its_key_path(tmp_path: Path, capsys) -> None:
    bad = write_config(
        tmp_path / "bad.yaml",
        {
            "admin_tokens": ["${NPSBOT_TEST_UNSET_TOKEN}"],
            "profiles": {"acme": {"brand": "A", "policy": {"expiry": "soon"}, "messages": {"es": {"thankz": "x"}}}},
        },
    )
    with pytest.raises(SystemExit) as exc:
        main(["check-config", "-c", str(bad)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "admin_tokens[0]: environment variable NPSBOT_TEST_UNSET_TOKEN is not set" in err
    assert "profiles.acme.policy.expiry: expected a duration such as 30s, 24h or 7d" in err
    assert "profiles.acme.messages.es.thankz: unknown message key" in err


@pytest.mark.postgres
def test_migrate_a_fresh_postgresql_database(tmp_path: Path, pg_url: str) -> None:
    name = f"npsbot_m_{uuid.uuid4().hex[:8]}"
    run_sync(_admin(f'CREATE DATABASE "{name}"'))
    try:
        url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
        assert main(["migrate", "--database", url]) == 0
        assert {"surveys", "contacts", "inbound_keys", "outbox"} <= run_sync(_tables(url))
    finally:
        run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _tables(url: str) -> set[str]:
    store = Store(url)
    try:
        async with store.read() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await store.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_migrates_serves_healthz_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "run.db"
    cfg = write_config(
        tmp_path / "run.yaml",
        {
            "database_url": f"sqlite:///{db}",
            "server": {"host": "127.0.0.1", "port": port},
            "profiles": {
                "acme": {"brand": "A", "channels": {"memory": {"http": True, "token": "cli-trial-token-123"}}}
            },
        },
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bots.cli", "run", "-c", str(cfg)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        body = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    body = json.loads(resp.read())
                break
            except OSError:
                time.sleep(0.2)
        assert body == {"status": "ok", "database": "sqlite"}, proc.stdout.read().decode() if proc.stdout else ""
        assert db.exists()  # migrated on start
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/memory/acme",
            data=json.dumps({"type": "close", "conversation_id": "c1", "user_id": "u1"}).encode(),
            headers={"Content-Type": "application/json", "Authorization": "Bearer cli-trial-token-123"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert json.loads(resp.read())["state"] == "asked"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0
