"""The `npsbot` command: demo, migrate and check-config as an operator runs them."""

from pathlib import Path

import yaml

from bots.cli import main
from bots.demo import run_demo
from tests.conftest import run_sync


def test_demo_prints_a_correct_nps(tmp_path: Path, capsys) -> None:
    result = run_sync(run_demo(conversations=30, seed=3, database_url=f"sqlite:///{tmp_path / 'demo.db'}"))
    out = capsys.readouterr().out
    assert result["ok"] is True and result["summary"].result == result["expected"]
    assert "Customer Feedback Report" in out and "by agent" in out and "matches" in out


def test_migrate_and_check_config(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "npsbot.yaml"
    db = tmp_path / "cli.db"
    cfg.write_text(
        yaml.safe_dump(
            {"database_url": f"sqlite:///{db}", "profiles": {"acme": {"brand": "A", "channels": {"memory": {}}}}}
        ),
        encoding="utf-8",
    )
    assert main(["check-config", "-c", str(cfg)]) == 0
    assert "configuration OK" in capsys.readouterr().out
    assert main(["migrate", "-c", str(cfg)]) == 0 and db.exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump({"profiles": {"acme": {"brand": "A", "policy": {"expiry": "soon"}}}}), encoding="utf-8"
    )
    try:
        main(["check-config", "-c", str(bad)])
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError("a bad config must exit with 2")
    assert "profiles.acme.policy.expiry" in capsys.readouterr().err
