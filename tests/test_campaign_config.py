"""`profiles.<name>.campaigns` in the YAML file: read into core.campaigns.Campaign, the profile's zone as the default,
variants reaching the policy, and every problem named by its key path."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bots.config import ConfigError, parse_config
from core.campaigns import Condition
from core.schedules import Schedule
from core.variants import Variant

WEBHOOK = {"secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}


def config(*campaigns: dict[str, Any], **profile: Any) -> dict[str, Any]:
    base = {"brand": "Acme", "channels": {"webhook": WEBHOOK, "memory": {}}, "campaigns": list(campaigns)}
    return {"profiles": {"acme": base | profile}}


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(data, env={})
    return exc.value.problems


def test_a_campaign_is_read_with_its_audience_and_variants() -> None:
    written = {
        "name": "quarterly",
        "schedule": "0 9 1 1,4,7,10 *",
        "timezone": "Europe/Madrid",
        "audience": {
            "attributes": {
                "plan": ["pro", "enterprise"],
                "segment": {"not": "churned"},
                "seats": 3,
                "company": {"present": True},
            },
            "locales": ["es", "en"],
            "consent": "granted",
        },
        "sample": 0.25,
        "channels": ["webhook", "memory"],
        "send_window": "2d",
        "variants": [
            {"name": "plain"},
            {"name": "warm", "question": {"es": "¿Nos recomendarías?"}, "send_delay": "2h"},
        ],
    }
    settings = parse_config(config(written), env={}).profile_settings()["acme"]
    [c] = settings.campaigns
    assert (c.name, c.schedule, c.timezone, c.sample, c.channels, c.send_window) == (
        "quarterly", Schedule.parse("0 9 1 1,4,7,10 *"), "Europe/Madrid", 0.25, ("webhook", "memory"), timedelta(days=2)
    )  # fmt: skip
    assert c.audience.conditions == (
        Condition("plan", ("pro", "enterprise")),
        Condition("segment", ("churned",), negate=True),
        Condition("seats", ("3",)),
        Condition("company", present=True),
    )
    assert c.audience.locales == ("es", "en") and c.audience.consent_required
    assert c.variants == (Variant("plain"), Variant("warm", {"es": "¿Nos recomendarías?"}, timedelta(hours=2)))
    assert settings.policy.campaign_variants == {"quarterly": c.variants}  # the ask finds the wording by name


def test_defaults_every_ninety_days_in_the_profiles_zone() -> None:
    settings = parse_config(config({"name": "q", "schedule": "every 90d", "channels": ["webhook"]}), env={})
    [c] = settings.profile_settings()["acme"].campaigns
    assert c.schedule.every == timedelta(days=90) and c.timezone == "UTC" and c.sample == 1.0
    assert c.send_window == timedelta(days=3) and c.variants == () and c.audience.conditions == ()


def test_problems_are_named_by_their_key_path() -> None:
    found = problems(
        config(
            {"name": "Quarterly NPS", "schedule": "0 9 * *", "channels": ["webhook"], "timezone": "Mars/Base"},
            {"name": "q", "schedule": "every 1m", "channels": ["telegram"], "sample": 1.5},
            {
                "name": "r",
                "schedule": "every 1d",
                "channels": ["webhook", "webhook"],
                "send_window": "200d",
                "variants": [{"name": "only"}],
                "audience": {"attributes": {"plan": {"nope": 1}}, "consent": "maybe"},
            },
            {"name": "s", "schedule": "every 1d", "channels": []},
        )
    )
    text = "\n".join(found)
    for path in (
        "profiles.acme.campaigns[0].name:",
        "profiles.acme.campaigns[0].schedule:",
        "profiles.acme.campaigns[0].timezone:",
        "profiles.acme.campaigns[1].schedule:",
        "profiles.acme.campaigns[1].sample:",
        "profiles.acme.campaigns[2].channels:",
        "profiles.acme.campaigns[2].send_window:",
        "profiles.acme.campaigns[2].variants:",
        "profiles.acme.campaigns[2].audience.attributes.plan",
        "profiles.acme.campaigns[2].audience.consent:",
        "profiles.acme.campaigns[3].channels:",
    ):
        assert path in text, path
    assert "five fields" in text and "IANA" in text and "at least" in text


def test_channels_must_be_the_profiles_and_names_unique() -> None:
    found = problems(
        config(
            {"name": "q", "schedule": "every 1d", "channels": ["webhook", "telegram"]},
            {"name": "q", "schedule": "every 7d", "channels": ["webhook"], "audience": {"channels": ["memory"]}},
        )
    )
    assert "profiles.acme.campaigns[0].channels[1]: the profile has no telegram channel configured" in found
    assert "profiles.acme.campaigns[1].name: 'q' is used by an earlier campaign" in found
    assert "profiles.acme.campaigns[1].audience.channels[0]: memory is not among the campaign's channels" in found


def test_a_campaigns_experiment_is_checked_as_a_profiles() -> None:
    variants = [{"name": "a", "question": {"en": "Hi {customer}, would you recommend {brand}?"}}, {"name": "b"}]
    found = problems(config({"name": "q", "schedule": "every 7d", "channels": ["webhook"], "variants": variants}))
    assert found == ["profiles.acme.campaigns[0].variants: a: question.en: unknown placeholder {customer}"]
