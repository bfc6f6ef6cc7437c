"""`profiles.<p>.channels.whatsapp` as check-config reads it: every key checked with its path, templates and labels
bounded as Meta bounds them, and no detractor alert may go to WhatsApp (a customer channel)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.whatsapp.config import DEFAULT_PER_CUSTOMER_PER_MINUTE, DEFAULT_RATE, WhatsAppConfig
from adapters.whatsapp.templates import choose
from adapters.whatsapp.texts import BUILT_IN, labels
from bots.config import ConfigError, parse_config
from core.messages import LOCALES

GOOD: dict[str, Any] = {
    "app_secret": "0123456789abcdef0123456789abcdef",
    "verify_token": "my-verify-token",
    "access_token": "EAAG-system-user-token",
    "phone_number_id": "106540352242922",
}


def problems(whatsapp: dict[str, Any], **profile: Any) -> list[str]:
    data = {"profiles": {"acme": {"brand": "Acme", "channels": {"whatsapp": whatsapp}, **profile}}}
    with pytest.raises(ConfigError) as exc:
        parse_config(data, env={})
    return exc.value.problems


def test_defaults_are_metas_limits_with_room() -> None:
    config = WhatsAppConfig.model_validate(GOOD)
    assert config.api_base.startswith("https://graph.facebook.com/v")
    assert (config.rate_per_second, config.per_customer_per_minute) == (DEFAULT_RATE, DEFAULT_PER_CUSTOMER_PER_MINUTE)
    assert config.rate_per_second < 80  # Meta's default throughput per number, inbound messages included
    assert config.templates == {}


def test_an_alert_to_whatsapp_is_refused() -> None:
    alerts = [{"channel": "whatsapp", "destination": "16505551234"}]
    assert problems(GOOD, alerts=alerts) == [
        "profiles.acme.alerts[0].channel: the whatsapp channel does not carry alerts (it only talks to customers)"
    ]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"phone_number_id": "+1 650 555"}, "phone_number_id"),
        ({"verify_token": "short"}, "verify_token"),
        ({"api_base": "ftp://graph"}, "api_base"),
        ({"rate_per_second": 0}, "rate_per_second"),
        ({"templates": {"en": {"name": "NPS Survey", "language": "en_US"}}}, "templates.en.name"),
        ({"templates": {"en": {"name": "nps", "language": "en_US", "buttons": ["ask", 11]}}}, "templates.en.buttons"),
        ({"templates": {"en": {"name": "nps", "language": "en_US", "body": ["customer_email"]}}}, "templates.en.body"),
        ({"templates": {"english!": {"name": "nps", "language": "en_US"}}}, "templates.english!"),
        ({"labels": {"nl": {"choose": "Kies een score uit de lijst", "pick": "Welke?"}}}, "labels.nl.choose"),
        ({"access_tokn": "typo"}, "access_tokn"),
    ],
)
def test_each_bad_key_is_named_by_its_path(change: dict[str, Any], path: str) -> None:
    found = problems({**GOOD, **change})
    assert found and all(p.startswith(f"profiles.acme.channels.whatsapp.{path}") for p in found), found


def test_check_config_reads_a_whatsapp_profile(tmp_path: Path) -> None:
    from bots.cli import main

    whatsapp = {**GOOD, "templates": {"en": {"name": "nps_survey", "language": "en_US", "buttons": ["ask", 10]}}}
    cfg = {"profiles": {"acme": {"brand": "Acme", "channels": {"whatsapp": whatsapp}}}}
    path = tmp_path / "npsbot.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    assert main(["check-config", "-c", str(path)]) == 0


def test_templates_follow_the_survey_language_then_the_profiles() -> None:
    config = WhatsAppConfig.model_validate(
        {
            **GOOD,
            "templates": {
                "en": {"name": "nps_en", "language": "en_US"},
                "pt_BR": {"name": "nps_br", "language": "pt_BR"},
                "es": {"name": "nps_es", "language": "es"},
            },
        }
    )
    assert choose(config.templates, "pt-PT", "es").name == "nps_br"  # same language, another country
    assert choose(config.templates, "es-MX", "en").name == "nps_es"
    assert choose(config.templates, "de", "es").name == "nps_es"  # none for German: the profile's language
    assert choose(config.templates, None, "en").name == "nps_en"
    assert choose({}, "en", "en") is None


def test_the_channels_own_words_exist_in_every_shipped_language_and_fit() -> None:
    assert set(BUILT_IN) == set(LOCALES)
    for words in BUILT_IN.values():
        assert 0 < len(words.choose) <= 20  # Meta's limit for a list message's button
    configured = {"nl": WhatsAppConfig.model_validate({**GOOD, "labels": {"nl": {"choose": "Kies", "pick": "?"}}})}
    nl = configured["nl"].labels
    assert labels("nl-BE", "en", nl).choose == "Kies"
    assert labels("sv", "es", nl).choose == BUILT_IN["es"].choose
    assert labels("sv", "sv", {}).choose == BUILT_IN["en"].choose
