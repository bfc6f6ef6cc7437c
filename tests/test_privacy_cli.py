"""`npsbot privacy erase | export | audit` against a configured SQLite database: the same erasure and export as the
API with an admin's reach, recorded as done by `cli:<user>`."""

from __future__ import annotations

import asyncio
import json

import pytest

from bots.cli import main
from bots.config import load_config
from core.service import SurveyService
from core.store import Store
from core.suppression import SuppressionKeys
from core.types import Address, ConversationClosed, ScoreGiven, TextReceived

USER = "cust-3141"
CONFIG = """
database_url: sqlite:///{db}
privacy:
  hash_key: cli-test-hash-key-0123456789
profiles:
  acme:
    brand: Acme
    policy: {{throttle: 0s}}
    channels: {{memory: {{}}}}
  tapas:
    brand: Tapas
    channels: {{memory: {{}}}}
"""


async def _populate(path) -> None:
    cfg = load_config(path, env={})
    store = Store(cfg.database_url)
    await store.migrate()
    service = SurveyService(store, cfg.profile_settings(), suppression=SuppressionKeys(cfg.privacy.keys()))
    for profile in ("acme", "tapas"):
        address = Address("memory", profile, f"chat-{USER}", USER)
        await service.handle(ConversationClosed(address, customer_name="Philippa Dunmore", agent="ana"))
        await service.handle(ScoreGiven(address, 4))
        await service.handle(TextReceived(address, "the gorblin invoice was wrong"))
    await store.dispose()


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "npsbot.yaml"
    path.write_text(CONFIG.format(db=tmp_path / "npsbot.db"))
    asyncio.run(_populate(path))
    return str(path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_export_then_erase_then_audit(config, capsys, tmp_path) -> None:
    code, out, _ = run(
        capsys, "privacy", "export", "-c", config, "--channel", "memory", "--id", USER, "--profile", "acme"
    )
    found = json.loads(out)
    assert (
        code == 0
        and found["profiles"] == ["acme"]
        and found["surveys"][0]["comment"] == "the gorblin invoice was wrong"
    )
    target = tmp_path / "out.json"
    code, _, err = run(
        capsys, "privacy", "export", "-c", config, "--channel", "memory", "--id", USER, "-o", str(target)
    )
    assert code == 0 and json.loads(target.read_text())["profiles"] == ["acme", "tapas"] and "written to" in err

    code, out, _ = run(capsys, "privacy", "erase", "-c", config, "--channel", "memory", "--id", USER)
    done = json.loads(out)
    assert code == 0 and (done["status"], done["profiles"], done["rows"]["surveys"]) == ("erased", ["acme", "tapas"], 2)
    code, out, _ = run(capsys, "privacy", "erase", "-c", config, "--channel", "memory", "--id", USER)
    assert code == 0 and json.loads(out)["status"] == "already erased"

    code, out, _ = run(capsys, "privacy", "audit", "-c", config, "--action", "erase")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(lines) == 2 and all(e["actor"].startswith("cli") for e in lines)
    assert USER not in out and "gorblin" not in out
    code, out, _ = run(capsys, "privacy", "audit", "-c", config, "--limit", "1")
    *_, more = [json.loads(line) for line in out.splitlines()]
    assert "next_cursor" in more


def test_unknown_person_and_bad_options(config, capsys) -> None:
    code, out, err = run(capsys, "privacy", "erase", "-c", config, "--channel", "memory", "--id", "nobody-here")
    assert (code, out) == (1, "") and "nobody with that id on memory in any profile" in err
    code, _, err = run(capsys, "privacy", "audit", "-c", config, "--since", "last week")
    assert code == 2 and "since" in err


def test_survey_skips_after_cli_erasure(config, capsys) -> None:
    run(capsys, "privacy", "erase", "-c", config, "--channel", "memory", "--id", USER, "--profile", "tapas")

    async def close_again() -> str | None:
        cfg = load_config(config, env={})
        store = Store(cfg.database_url)
        service = SurveyService(store, cfg.profile_settings(), suppression=SuppressionKeys(cfg.privacy.keys()))
        out = await service.handle(ConversationClosed(Address("memory", "tapas", "c9", USER), case_id="later"))
        await store.dispose()
        return None if out.survey is None else out.survey.skip_reason

    assert asyncio.run(close_again()) == "suppressed"
