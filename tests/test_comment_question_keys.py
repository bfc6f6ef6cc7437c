"""The question after the score is the comment question (text keys `comment_question_*`); "follow-up" is kept for
the detractor claim / resolve loop. Overrides under the old `followup_*` names still work for one release, and
every command that reads the configuration names them with their new name."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from adapters.telegram.keyboards import Vote
from bots.app import create_app
from bots.cli import main
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.telegram_api import FakeTelegram
from core.catalog_texts import TEXTS
from core.messages import KEYS, MessageCatalog, deprecated_keys, validate_overrides
from tests import telegram_updates as tg
from tests.telegram_app import AGENT, GROUP, deliver, make_config, post, sent_texts, survey_row, telegram_fake

fake = pytest.fixture(telegram_fake)
OLD = {"followup_detractor": "Lo sentimos ({score}), ¿qué falló?", "followup_promoter": "¡Gracias por el {score}!"}


def test_the_comment_question_keys_replace_the_followup_ones() -> None:
    assert {"comment_question_promoter", "comment_question_passive", "comment_question_detractor"} <= set(KEYS)
    assert not [k for k in KEYS if k.startswith("followup")]


def test_old_key_overrides_are_read_as_the_new_keys() -> None:
    catalog = MessageCatalog({"es": OLD, "ca": {"followup_passive": "old", "comment_question_passive": "new {score}"}})
    assert catalog.text("comment_question_detractor", "es", score=3) == "Lo sentimos (3), ¿qué falló?"
    assert catalog.text("comment_question_promoter", "es-ES", score=10) == "¡Gracias por el 10!"
    assert catalog.text("comment_question_passive", "es", score=7) == TEXTS["es"]["comment_question_passive"].format(
        score=7
    )
    assert catalog.text("comment_question_passive", "ca", score=8) == "new 8"  # the new name wins over the old
    with pytest.raises(KeyError):
        catalog.text("followup_promoter", "es")  # code asks by the new name only


def test_old_keys_are_checked_like_the_new_ones_and_named_as_deprecated() -> None:
    assert validate_overrides({"es": OLD}) == []
    assert validate_overrides({"es": {"followup_passive": "{name}?"}}) == [
        "messages.es.followup_passive: unknown placeholder {name}"
    ]
    hints = deprecated_keys({"es": OLD, "ca": {"followup_passive": "a", "comment_question_passive": "b"}})
    assert hints == [
        "messages.es.followup_detractor: deprecated key, rename it comment_question_detractor",
        "messages.es.followup_promoter: deprecated key, rename it comment_question_promoter",
        "messages.ca.followup_passive: deprecated key, rename it comment_question_passive; unused, as "
        "comment_question_passive is set too",
    ]
    assert deprecated_keys({"es": {"comment_question_promoter": "x"}}) == []


def test_check_config_accepts_old_keys_and_names_each_with_its_new_name(tmp_path: Path, capsys) -> None:
    profile = {"brand": "A", "channels": {"memory": {}}, "messages": {"es": OLD}}
    path = tmp_path / "npsbot.yaml"
    privacy = {"hash_key": "k" * 64}  # set, so the only warnings are the deprecated keys
    config = {"database_url": "sqlite://", "privacy": privacy, "profiles": {"acme": profile}}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["check-config", "-c", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "configuration OK" in out
    assert err.splitlines() == [
        f"warning: {path}: profiles.acme.messages.es.followup_detractor: deprecated key, rename it "
        "comment_question_detractor",
        f"warning: {path}: profiles.acme.messages.es.followup_promoter: deprecated key, rename it "
        "comment_question_promoter",
    ]
    profile["messages"] = {"es": {"comment_question_detractor": OLD["followup_detractor"]}}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["check-config", "-c", str(path)]) == 0
    assert capsys.readouterr().err == ""


async def test_a_config_with_an_old_key_asks_its_text_after_the_score(tmp_path, fake: FakeTelegram, clock) -> None:
    """Over the wire: real aiogram against the fake Bot API; the customer taps 2 and gets the override."""
    cfg = make_config(tmp_path, fake)
    cfg["profiles"]["shop"]["messages"] = {"es": OLD}
    runtime = Runtime(parse_config(cfg, env={}), clock=clock)
    await runtime.store.migrate()
    async with TestClient(TestServer(create_app(runtime))) as client:
        client.runtime = runtime  # type: ignore[attr-defined]
        customer = tg.user(4343, "Lucía", "es")
        asked = tg.message(GROUP, customer, "mi pedido no llega")
        assert await post(client, tg.update(message=asked)) == 200
        assert await post(client, tg.text_update(GROUP, AGENT, "/close", reply_to=asked)) == 200
        await deliver(client)
        [question] = fake.of("sendMessage", GROUP)
        survey = await survey_row(client)
        tap = tg.callback_update(customer, GROUP, question.result["message_id"], Vote(s=survey.id, n=2).pack())
        assert await post(client, tap) == 200
        await deliver(client)
    assert sent_texts(fake, GROUP)[-1] == "Lo sentimos (2), ¿qué falló?"
