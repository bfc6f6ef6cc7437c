from datetime import timedelta
from pathlib import Path

import pytest

from bots.config import ConfigError, load_config, parse_config
from bots.durations import parse_duration

ROOT = Path(__file__).resolve().parent.parent

MINIMAL = {"profiles": {"acme": {"brand": "Acme", "channels": {"memory": {}}}}}


def test_example_config_is_valid_with_its_env() -> None:
    env = {
        "TELEGRAM_TOKEN": "123456:ABCDEF-token",
        "TELEGRAM_SECRET": "s3cret",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "abcdef123",
        "WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "NPSBOT_ADMIN_TOKEN": "admin-token",
        "ACME_API_TOKEN": "acme-token",
    }
    cfg = load_config(ROOT / "config.example.yaml", env=env)
    assert cfg.profiles
    for name, settings in cfg.profile_settings().items():
        assert settings.name == name


def test_env_substitution_and_defaults() -> None:
    data = {"database_url": "${DB:-sqlite:///x.db}", "profiles": {"acme": {"brand": "${BRAND}"}}}
    cfg = parse_config(data, env={"BRAND": "Acme"})
    assert cfg.database_url == "sqlite:///x.db" and cfg.profiles["acme"].brand == "Acme"


def test_missing_env_is_named_by_key_path() -> None:
    data = {
        "profiles": {"acme": {"brand": "x", "channels": {"slack": {"bot_token": "${NOPE}", "signing_secret": "x"}}}}
    }
    with pytest.raises(ConfigError) as exc:
        parse_config(data, env={})
    assert "profiles.acme.channels.slack.bot_token: environment variable NOPE is not set" in exc.value.problems


def test_validation_errors_name_the_key_path() -> None:
    data = {
        "profiles": {
            "acme": {
                "brand": "Acme",
                "policy": {"expiry": "forever", "reask_limit": 9},
                "channels": {"telegram": {"token": "123456:abcdefgh", "mode": "webhook"}},
                "colour": "blue",
            }
        }
    }
    with pytest.raises(ConfigError) as exc:
        parse_config(data, env={})
    text = str(exc.value)
    assert "profiles.acme.policy.expiry:" in text
    assert "profiles.acme.policy.reask_limit:" in text
    assert "profiles.acme.channels.telegram:" in text and "secret_token is required" in text
    assert "profiles.acme.colour: Extra inputs are not permitted" in text


def test_message_overrides_are_checked() -> None:
    data = {"profiles": {"acme": {"brand": "A", "messages": {"es": {"thankz": "¡Gracias!"}}}}}
    with pytest.raises(ConfigError) as exc:
        parse_config(data, env={})
    assert "profiles.acme.messages" in str(exc.value) and "thankz" in str(exc.value)


def test_bad_profile_name_and_no_profiles() -> None:
    with pytest.raises(ConfigError, match="profiles"):
        parse_config({"profiles": {}}, env={})
    with pytest.raises(ConfigError, match="lowercase"):
        parse_config({"profiles": {"Acme Desk": {"brand": "A"}}}, env={})


def test_profile_settings_carry_policy_and_overrides() -> None:
    data = {
        "profiles": {
            "acme": {
                "brand": "Acme",
                "locale": "ca",
                "policy": {"send_delay": "2m", "expiry": "1d12h", "throttle": "14d"},
                "messages": {"ca": {"thanks": "Moltes gràcies!"}},
            }
        }
    }
    p = parse_config(data, env={}).profile_settings()["acme"].policy
    assert p.send_delay == timedelta(minutes=2) and p.expiry == timedelta(hours=36) and p.throttle == timedelta(days=14)
    assert p.messages.text("thanks", "ca") == "Moltes gràcies!"
    assert p.messages.text("thanks", None) == "Moltes gràcies!"  # profile default locale


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("1h30m", 5400), (45, 45), ("2w", 1209600), ("250ms", 0.25), ("60", 60)]
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("bad", ["soon", "5 parsecs", "", True, "1h junk"])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("profiles: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    assert parse_config(MINIMAL, env={}).profiles["acme"].channels.enabled() == ["memory"]
