"""The YAML configuration: read, `${ENV}` secrets substituted, validated by pydantic, every problem named by its
key path (bots/config_problems.py). The top level and its process blocks (`server`, `worker`, `report`) are here;
a profile's keys are in bots/profile_config.py, its `policy` in bots/policy_config.py."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator
from sqlalchemy.engine import make_url

from bots.channel_checks import token_key_problems
from bots.config_problems import Nested, Strict, problem_lines
from bots.digest_config import EmailConfig, email_channels
from bots.durations import Duration, PositiveDuration
from bots.privacy_config import PrivacyConfig
from bots.profile_config import ProfileConfig
from bots.retention_config import PruningConfig
from bots.token_keys import read_keys
from bots.worker import WorkerSettings
from core.profiles import ProfileSettings
from core.reports.summary import MIN_RESPONSES

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(ValueError):
    """Every problem found, one per line, each starting with the key path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# Defaults are written once, where they take effect; the file's keys default to them.
_WORKER = WorkerSettings()


class ServerConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str | None = None
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    # Slow clients: time to send a request's head, then its body; keep-alive idle time; connections at once.
    header_timeout: PositiveDuration = timedelta(seconds=10)
    body_timeout: PositiveDuration = timedelta(seconds=30)
    idle_timeout: PositiveDuration = timedelta(
        seconds=75
    )  # longer than a proxy's upstream keep-alive (nginx, ALB: 60s)
    max_connections: int = Field(1000, ge=1, le=1_000_000)


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
            raise Nested(problems)
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
        problems += [line for e in exc.errors() for line in problem_lines(e) if line.split(": ", 1)[0] not in unset]
        raise ConfigError(problems) from None
    config._token_keys, key_problems = read_keys(os.environ if env is None else env)
    problems += key_problems + token_key_problems(config.profiles, config.token_keys)
    if problems:
        raise ConfigError(problems)
    return config


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
