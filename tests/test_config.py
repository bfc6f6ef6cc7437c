from datetime import timedelta
from pathlib import Path

import pytest
import yaml

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
    assert parse_config(MINIMAL, env={}).profiles["acme"].channels.keys() == {"memory"}


def problems_of(data: dict, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(data, env=env or {})
    return exc.value.problems


def test_env_forms_in_nested_keys_and_lists() -> None:
    data = {
        "database_url": "${DB:-sqlite:///x.db}",
        "admin_tokens": ["${ADMIN}", "static-${SUFFIX:-dev}"],
        "profiles": {"acme": {"brand": "${BRAND:-}Acme", "api_tokens": ["${ACME_TOKEN:-fallback}"]}},
    }
    cfg = parse_config(data, env={"ADMIN": "a1", "ACME_TOKEN": "t1", "DB": "postgresql://u@h/db"})
    assert cfg.admin_tokens == ["a1", "static-dev"] and cfg.database_url == "postgresql://u@h/db"
    assert cfg.profiles["acme"].brand == "Acme" and cfg.profiles["acme"].api_tokens == ["t1"]
    assert problems_of(data) == ["admin_tokens[0]: environment variable ADMIN is not set"]


def test_every_problem_is_reported_at_once_each_with_its_path() -> None:
    data = {
        "admin_tokens": ["${NOPE}"],
        "database_url": "mysql://db/x",
        "profiles": {
            "acme": {
                "brand": "A",
                "policy": {"throttle": -5, "expiry": "0s"},
                "messages": {"es": {"thankz": "x", "thanks": "Hola {name}"}},
                "channels": {"memory": {"colour": "red"}},
                "alerts": [{"channel": "fax", "destination": "1"}],
            }
        },
    }
    problems = problems_of(data)
    assert sorted(p.split(": ", 1)[0] for p in problems) == [
        "admin_tokens[0]",
        "database_url",
        "profiles.acme.alerts[0].channel",
        "profiles.acme.channels.memory.colour",
        "profiles.acme.messages.es.thanks",
        "profiles.acme.messages.es.thankz",
        "profiles.acme.policy.expiry",
        "profiles.acme.policy.throttle",
    ]
    assert not any("Value error" in p for p in problems)
    assert "profiles.acme.messages.es.thanks: unknown placeholder {name}" in problems


def test_locale_must_have_texts() -> None:
    assert problems_of({"profiles": {"acme": {"brand": "A", "locale": "xx"}}}) == [
        "profiles.acme.locale: 'xx' has no texts (built in: en es ca it pt fr de; add messages.xx for more)"
    ]
    own = parse_config({"profiles": {"acme": {"brand": "A", "locale": "nl", "messages": {"nl": {"thanks": "Dank!"}}}}})
    assert own.profile_settings()["acme"].policy.messages.text("thanks", None) == "Dank!"
    regional = parse_config(
        {"profiles": {"acme": {"brand": "A", "locale": "pt-BR", "messages": {"pt-BR": {"thanks": "Valeu!"}}}}}
    )
    policy = regional.profile_settings()["acme"].policy
    assert policy.locale == "pt" and policy.messages.text("thanks", "pt-PT") == "Valeu!"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("sqlite:///npsbot.db", True),
        ("sqlite+aiosqlite:///npsbot.db", True),
        ("postgresql://u@127.0.0.1/db", True),
        ("postgresql+asyncpg://u:p@db/x", True),
        ("mysql://u@db/x", False),
        ("not a url", False),
    ],
)
def test_database_url_must_be_sqlite_or_postgresql(url: str, ok: bool) -> None:
    data = {"database_url": url, **MINIMAL}
    if ok:
        assert parse_config(data, env={}).database_url == url
    else:
        assert problems_of(data)[0].startswith("database_url: ")


@pytest.mark.parametrize("bad", [-1, -0.5])
def test_negative_durations_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="zero or more"):
        parse_duration(bad)


def _walkthrough_yaml() -> str:
    """The first YAML block of the README's configuration walkthrough, as an operator would copy it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration walkthrough", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


def test_alert_target_without_its_channel_is_refused_with_the_key_path(tmp_path: Path, capsys) -> None:
    from bots.cli import main

    profile = {
        "brand": "Acme",
        "channels": {"memory": {}},
        "alerts": [{"channel": "memory", "destination": "leads"}, {"channel": "slack", "destination": "C0123"}],
    }
    assert problems_of({"profiles": {"acme": profile}}) == [
        "profiles.acme.alerts[1].channel: the profile has no slack channel configured"
    ]
    path = tmp_path / "npsbot.yaml"
    path.write_text(yaml.safe_dump({"profiles": {"acme": profile}}), encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["check-config", "-c", str(path)])
    assert exc.value.code == 2
    assert "profiles.acme.alerts[1].channel: the profile has no slack channel configured" in capsys.readouterr().err


def test_every_inconsistency_of_a_profile_is_reported_at_once() -> None:
    profile = {"brand": "A", "locale": "xx", "alerts": [{"channel": "telegram", "destination": "-100"}]}
    assert problems_of({"profiles": {"acme": profile}}) == [
        "profiles.acme.locale: 'xx' has no texts (built in: en es ca it pt fr de; add messages.xx for more)",
        "profiles.acme.alerts[0].channel: the profile has no telegram channel configured",
    ]


def test_the_readme_walkthrough_passes_check_config() -> None:
    data = yaml.safe_load(_walkthrough_yaml())
    cfg = parse_config(data, env={"SLACK_BOT_TOKEN": "xoxb-walkthrough", "SLACK_SIGNING_SECRET": "signing-secret"})
    for profile in cfg.profiles.values():
        assert profile.alerts and all(a.channel in profile.channels for a in profile.alerts)


@pytest.mark.parametrize(
    ("memory", "problem"),
    [
        ({"http": True}, "profiles.acme.channels.memory.token: required with http: true"),
        ({"http": True, "token": None}, "profiles.acme.channels.memory.token: required with http: true"),
        ({"http": True, "token": "short-token"}, "profiles.acme.channels.memory.token: String should have at least"),
        ({"http": True, "token": "${UNSET_TOKEN}"}, "profiles.acme.channels.memory.token: environment variable"),
        ({"http": True, "token": "t" * 513}, "profiles.acme.channels.memory.token: String should have at most"),
        ({"http": "sometimes", "token": "t" * 16}, "profiles.acme.channels.memory.http:"),
    ],
)
def test_the_memory_trial_endpoint_needs_a_token_of_sane_length(memory: dict, problem: str) -> None:
    problems = problems_of({"profiles": {"acme": {"brand": "A", "channels": {"memory": memory}}}})
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_the_memory_trial_endpoint_is_off_by_default() -> None:
    assert parse_config(MINIMAL, env={}).profiles["acme"].channels["memory"].http is False  # type: ignore[attr-defined]
    on = {"profiles": {"acme": {"brand": "A", "channels": {"memory": {"http": True, "token": "${T}"}}}}}
    assert parse_config(on, env={"T": "t" * 16}).profiles["acme"].channels["memory"].token == "t" * 16  # type: ignore[attr-defined]
