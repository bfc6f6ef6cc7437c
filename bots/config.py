"""The YAML configuration: `${ENV}` secrets substituted, validated by pydantic, errors named by key path."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator
from sqlalchemy.engine import make_url

from bots.campaign_config import CampaignConfig, VariantConfig, campaign_expiry, campaign_problems, to_campaigns
from bots.channel_checks import alert_problems, token_key_problems
from bots.channels import discover
from bots.digest_config import DigestConfig, EmailConfig, digest_problems, email_channels
from bots.durations import Duration
from bots.privacy_config import PrivacyConfig
from bots.retention_config import PruningConfig, RedactionConfig, RetentionConfig
from bots.routing_config import EVENT_NAME, RuleConfig, TargetConfig, rule_problems, subscription_problems, to_rules
from bots.token_keys import read_keys
from bots.worker import WorkerSettings
from bots.zone_names import ZoneName
from core.messages import LOCALES, MessageCatalog, language, validate_overrides
from core.profiles import EVENT_TYPES, ProfileSettings, Subscription
from core.quiet_hours import QuietHours
from core.reports.summary import MIN_RESPONSES
from core.survey import Policy
from core.themes.matcher import ThemeMatcher
from core.themes.matcher import problems as theme_problems
from core.variants import experiment_problems

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(ValueError):
    """Every problem found, one per line, each starting with the key path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Nested(ValueError):
    """Problems below the key being validated, each already starting with its path relative to that key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Defaults are written once, where they take effect; the file's keys default to them.
_POLICY = Policy()
_WORKER = WorkerSettings()


class PolicyConfig(Strict):
    """A profile's survey rules; what it leaves out is core.survey.Policy's default."""

    send_delay: Duration = _POLICY.send_delay
    expiry: Duration = _POLICY.expiry
    comment_window: Duration = _POLICY.comment_window
    throttle: Duration = _POLICY.throttle
    reask_limit: int = Field(_POLICY.reask_limit, ge=0, le=5)
    # The survey programme's rules (core/asking.py): see config.example.yaml for each.
    sample: float = Field(_POLICY.sample, ge=0, le=1)
    sample_period: Duration | None = _POLICY.sample_period  # None: the throttle window
    quiet_hours: QuietHours | None = _POLICY.quiet_hours  # written "21:00-09:00"
    timezone: ZoneName = _POLICY.timezone
    reminder: Duration | None = _POLICY.reminder
    variants: tuple[VariantConfig, ...] = ()

    @field_validator("expiry")
    @classmethod
    def _positive(cls, v: timedelta) -> timedelta:
        if v <= timedelta(0):
            raise ValueError("must be longer than 0s, or every question would expire as it is sent")
        return v

    @field_validator("sample_period", "reminder")
    @classmethod
    def _longer_than_zero(cls, v: timedelta | None) -> timedelta | None:
        if v is not None and v <= timedelta(0):
            raise ValueError("must be longer than 0s")
        return v

    @field_validator("quiet_hours", mode="before")
    @classmethod
    def _quiet_hours(cls, v: Any) -> Any:
        return v if v is None or isinstance(v, QuietHours) else QuietHours.parse(v)  # ValueError with the reason

    @field_validator("variants")
    @classmethod
    def _experiment(cls, v: tuple[VariantConfig, ...]) -> tuple[VariantConfig, ...]:
        problems = experiment_problems([x.variant() for x in v])
        if problems:
            raise ValueError("; ".join(problems))
        return v

    @model_validator(mode="after")
    def _reminder_before_expiry(self) -> PolicyConfig:
        if self.reminder is not None and self.reminder >= self.expiry:
            raise ValueError("reminder must be shorter than expiry, or it would never be sent")
        return self

    def rules(self) -> dict[str, Any]:
        """The programme's keys as core.survey.Policy fields."""
        return {
            "sample": self.sample,
            "sample_period": self.sample_period,
            "quiet_hours": self.quiet_hours,
            "timezone": self.timezone,
            "reminder": self.reminder,
            "variants": tuple(x.variant() for x in self.variants),
        }


class SubscriptionConfig(Strict):
    url: str = Field(pattern=r"^https?://")
    secret: str | None = None
    events: list[str] = Field(default_factory=lambda: list(EVENT_TYPES))

    @field_validator("events")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        # A dotted name may be an event the profile's routing rules emit: the profile checks those.
        unknown = sorted(e for e in set(v) - set(EVENT_TYPES) if not EVENT_NAME.fullmatch(e))
        if unknown:
            raise ValueError(f"unknown event types {unknown}; known: {list(EVENT_TYPES)}")
        return v


class ProfileConfig(Strict):
    brand: str
    locale: str = "en"
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    messages: dict[str, dict[str, str]] = Field(default_factory=dict)
    channels: dict[str, BaseModel] = Field(default_factory=dict)  # validated by each channel's own model
    alerts: list[TargetConfig] = Field(default_factory=list)
    subscriptions: list[SubscriptionConfig] = Field(default_factory=list)
    review_url: str | None = None
    link_template: str | None = None
    api_tokens: list[str] = Field(default_factory=list)
    rules: list[RuleConfig] = Field(default_factory=list)  # routing rules and SLAs (bots/routing_config.py)
    redaction: RedactionConfig = Field(default_factory=RedactionConfig)  # bots/retention_config.py
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    themes: dict[str, dict[str, list[str]]] = Field(default_factory=dict)  # comment themes: name → language → keywords
    benchmark: float | None = Field(None, ge=-100, le=100)  # a reference NPS the reports compare against
    digest: DigestConfig | None = None  # the scheduled digest (bots/digest_config.py)
    smtp: EmailConfig | None = None  # this profile's mail server for email digests (else the top-level smtp)
    campaigns: list[CampaignConfig] = Field(default_factory=list)  # relational campaigns (bots/campaign_config.py)

    @field_validator("themes", mode="before")
    @classmethod
    def _themes(cls, v: Any) -> Any:
        """Each problem named by its path (`themes.billing.xx: unknown language …`); see core/themes/matcher.py."""
        if v is None:
            return {}
        if isinstance(v, dict) and (problems := theme_problems(v)):
            raise _Nested(problems)
        return v

    @field_validator("channels", mode="before")
    @classmethod
    def _channels(cls, v: Any) -> Any:
        """Each `channels.<name>` by the model of the channel of that name; a null value leaves it off."""
        if not isinstance(v, dict):
            return v  # pydantic says it should be a mapping
        found, problems, configs = discover(), [], {}
        for name, value in v.items():
            spec = found.specs.get(name)
            if spec is None:
                problems.append(f"{name}: {found.unknown(name)}")
            elif value is not None:
                try:
                    configs[name] = spec.config.model_validate(value)
                except ValidationError as exc:
                    problems += [_below(name, line) for e in exc.errors() for line in _lines(e)]
        if problems:
            raise _Nested(problems)
        return configs

    @field_validator("messages")
    @classmethod
    def _messages(cls, v: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        problems = validate_overrides(v)
        if problems:
            raise _Nested([p.removeprefix("messages.") for p in problems])
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ProfileConfig:
        """Keys that are each valid but do not fit together; all such problems are reported at once."""
        problems: list[str] = []
        lang = language(self.locale)
        if lang not in LOCALES and lang not in {language(k) for k in self.messages}:
            problems.append(
                f"locale: {self.locale!r} has no texts (built in: {' '.join(LOCALES)}; add messages.{lang} for more)"
            )
        # An alert goes out through the profile's own channel of that name; without one, every alert would end
        # as a dead letter.
        problems += [
            f"alerts[{i}].channel: the profile has no {a.channel} channel configured"
            for i, a in enumerate(self.alerts)
            if a.channel not in self.channels
        ]
        problems += alert_problems(self.alerts, self.channels)  # a destination in the form its channel reads
        problems += rule_problems(self) + subscription_problems(self) + digest_problems(self.digest, self.channels)
        problems += campaign_problems(self.campaigns, self.channels)
        if problems:
            raise _Nested(problems)
        self.locale = lang
        return self

    def settings(self, name: str) -> ProfileSettings:
        p = self.policy
        policy = Policy(
            brand=self.brand,
            locale=self.locale,
            send_delay=p.send_delay,
            expiry=p.expiry,
            comment_window=p.comment_window,
            throttle=p.throttle,
            reask_limit=p.reask_limit,
            review_url=self.review_url,
            messages=MessageCatalog(self.messages, default_locale=self.locale),
            **p.rules(),
        )
        campaigns = to_campaigns(self.campaigns, policy.timezone)
        policy = replace(
            policy,
            campaign_variants={c.name: c.variants for c in campaigns if c.variants},
            campaign_expiry=campaign_expiry(self.campaigns),
        )
        return ProfileSettings(
            name=name,
            policy=policy,
            alert_targets=tuple(a.target() for a in self.alerts),
            subscriptions=tuple(Subscription(s.url, frozenset(s.events)) for s in self.subscriptions),
            link_template=self.link_template,
            rules=to_rules(self.rules),
            redaction=self.redaction.settings(self.locale),
            retention=self.retention.settings(),
            themes=ThemeMatcher.of(self.themes),
            benchmark=self.benchmark,
            digest=None if self.digest is None else self.digest.settings(),
            campaigns=campaigns,
        )


class ServerConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str | None = None
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    # Slow clients: time to send a request's head, then its body; keep-alive idle time; connections at once.
    header_timeout: Duration = timedelta(seconds=10)
    body_timeout: Duration = timedelta(seconds=30)
    idle_timeout: Duration = timedelta(seconds=75)  # longer than a proxy's upstream keep-alive (nginx, ALB: 60s)
    max_connections: int = Field(1000, ge=1, le=1_000_000)

    @field_validator("header_timeout", "body_timeout", "idle_timeout")
    @classmethod
    def _timeout_positive(cls, v: timedelta) -> timedelta:
        if v <= timedelta(0):
            raise ValueError("must be longer than 0s")
        return v


class WorkerConfig(Strict):
    role: Literal["all", "web", "worker"] = "all"
    """What the file leaves out is bots.worker.WorkerSettings' default."""

    lease: Duration = _WORKER.lease
    batch: int = Field(_WORKER.batch, ge=1, le=1000)
    poll_interval: Duration = timedelta(seconds=_WORKER.poll_interval)
    max_attempts: int = Field(_WORKER.max_attempts, ge=1, le=50)
    send_timeout: Duration = timedelta(seconds=_WORKER.send_timeout)
    concurrency: int = Field(_WORKER.concurrency, ge=1, le=256)
    metrics_port: int | None = Field(None, ge=0, le=65535)  # role worker: serve /metrics and /healthz here

    @model_validator(mode="after")
    def _lease_outlives_a_send(self) -> WorkerConfig:
        if self.send_timeout * 2 > self.lease:
            raise ValueError("lease must be at least twice send_timeout, or a slow send could be claimed twice")
        return self

    def settings(self) -> WorkerSettings:
        """The worker's settings: these keys, and WorkerSettings' own defaults for what the file has no key for."""
        return replace(
            _WORKER,
            lease=self.lease,
            batch=self.batch,
            poll_interval=self.poll_interval.total_seconds(),
            max_attempts=self.max_attempts,
            send_timeout=self.send_timeout.total_seconds(),
            concurrency=self.concurrency,
        )


class ReportConfig(Strict):
    min_responses: int = Field(MIN_RESPONSES, ge=1, le=100000)  # fewer: the NPS is shown but flagged not significant


class Config(Strict):
    database_url: str = "sqlite+aiosqlite:///npsbot.db"

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, v: str) -> str:
        try:
            backend = make_url(v).get_backend_name()
        except Exception:
            raise ValueError("expected a URL such as sqlite:///npsbot.db or postgresql://user@host/db") from None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"{backend!r} is not supported: use sqlite:///file.db or postgresql://user@host/db")
        return v

    server: ServerConfig = Field(default_factory=ServerConfig)
    worker: WorkerConfig = Field(default_factory=WorkerConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    admin_tokens: list[str] = Field(default_factory=list)
    pruning: PruningConfig = Field(default_factory=PruningConfig)  # operational rows past their useful life
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    profiles: dict[str, ProfileConfig] = Field(min_length=1)
    smtp: EmailConfig | None = None  # the mail server email digests go out through (adapters/email)
    _token_keys: tuple[str, ...] = PrivateAttr(default=())  # from the environment: bots/token_keys.py

    @property
    def token_keys(self) -> tuple[str, ...]:
        """The keys that seal platform tokens kept in the database: the first seals, every one opens."""
        return self._token_keys

    @field_validator("profiles")
    @classmethod
    def _names(cls, v: dict[str, ProfileConfig]) -> dict[str, ProfileConfig]:
        for name in v:
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", name):
                raise ValueError(f"profile name {name!r} must be lowercase letters, digits, - or _ (used in URLs)")
        return v

    @model_validator(mode="after")
    def _email(self) -> Config:
        """A profile with email digest targets sends them through its own smtp, else the top-level one."""
        problems = email_channels(self.profiles, self.smtp)
        if problems:
            raise _Nested(problems)
        return self

    def profile_settings(self) -> dict[str, ProfileSettings]:
        return {name: p.settings(name) for name, p in self.profiles.items()}


def substitute_env(value: Any, env: dict[str, str], path: str = "", problems: list[str] | None = None) -> Any:
    """Replace ${NAME} / ${NAME:-default} in every string; a missing variable is reported with its key path."""
    problems = [] if problems is None else problems
    if isinstance(value, dict):
        return {k: substitute_env(v, env, f"{path}.{k}" if path else str(k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v, env, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    if isinstance(value, str):

        def repl(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            problems.append(f"{path}: environment variable {name} is not set")
            return ""

        return _ENV.sub(repl, value)
    return value


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith("function-") or part in ("str", "int"):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"


def parse_config(data: Any, env: dict[str, str] | None = None) -> Config:
    if not isinstance(data, dict):
        raise ConfigError(["(root): expected a mapping of settings"])
    problems: list[str] = []
    data = substitute_env(data, dict(os.environ) if env is None else env, "", problems)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        # All problems at once; a key whose variable is missing is reported for that reason only.
        unset = {p.split(": ", 1)[0] for p in problems}
        problems += [line for e in exc.errors() for line in _lines(e) if line.split(": ", 1)[0] not in unset]
        raise ConfigError(problems) from None
    config._token_keys, key_problems = read_keys(os.environ if env is None else env)
    problems += key_problems + token_key_problems(config.profiles, config.token_keys)
    if problems:
        raise ConfigError(problems)
    return config


def _lines(error: Any) -> list[str]:
    """One line per problem, the key path first; pydantic's "Value error, " prefix is noise to an operator."""
    where = _loc(error["loc"])
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, _Nested):
        return [f"{where}.{p}" if where != "(root)" else p for p in cause.problems]
    return [f"{where}: {error['msg'].removeprefix('Value error, ')}"]


def _below(key: str, line: str) -> str:
    """A problem line of a nested model, its path put under `key` ("(root): x" is the key's own problem)."""
    where, _, what = line.partition(": ")
    return f"{key}: {what}" if where == "(root)" else f"{key}.{line}"


def load_config(path: str | Path, env: dict[str, str] | None = None) -> Config:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read ({exc.strerror})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"{p}: not valid YAML ({exc})"]) from None
    return parse_config(data, env)
