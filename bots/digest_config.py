"""`profiles.<p>.digest`: the scheduled digest (core/digest_job.py) and where it goes; `smtp:` (top level or per
profile) is the operator's mail server for email targets (adapters/email)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Literal, Protocol

from pydantic import BaseModel, Field, field_validator

from adapters.email import SPEC as EMAIL
from adapters.email import EmailConfig
from adapters.email.config import ADDRESS
from bots.channel_checks import alert_problems
from bots.config_problems import Strict
from bots.durations import Duration
from bots.zone_names import ZoneName
from core.digest_settings import DIGEST_CHANNELS, DigestSettings, DigestTarget
from core.messages import LOCALES, language
from core.schedules import Schedule

DigestChannel = Literal["slack", "telegram", "webhook", "email"]
assert set(DigestChannel.__args__) == set(DIGEST_CHANNELS)  # type: ignore[attr-defined]


class DigestTargetConfig(Strict):
    channel: DigestChannel
    destination: str = Field(min_length=1)  # a Slack channel id, a Telegram chat id, a URL, an address


class DigestConfig(Strict):
    schedule: str  # cron ("0 8 * * MON") or an interval ("every 7d"), read in `timezone`
    timezone: ZoneName = "UTC"
    period: Duration | None = None  # default: from the previous occurrence to this one
    locale: str | None = None  # default: the profile's
    targets: list[DigestTargetConfig] = Field(min_length=1)
    movers: int = Field(3, ge=0, le=20)
    min_responses: int = Field(10, ge=1, le=100000)  # a team or agent needs this many in both periods to be a mover
    trend_periods: int = Field(8, ge=2, le=104)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str) -> str:
        Schedule.parse(v)
        return v

    @field_validator("period")
    @classmethod
    def _period(cls, v: timedelta | None) -> timedelta | None:
        if v is not None and v < timedelta(hours=1):
            raise ValueError("must be at least 1h")
        return v

    @field_validator("locale")
    @classmethod
    def _locale(cls, v: str | None) -> str | None:
        if v is not None and language(v) not in LOCALES:
            raise ValueError(f"{v!r} has no digest texts (built in: {' '.join(LOCALES)})")
        return None if v is None else language(v)

    def settings(self) -> DigestSettings:
        return DigestSettings(
            schedule=Schedule.parse(self.schedule),
            timezone=self.timezone,
            period=self.period,
            locale=self.locale,
            targets=tuple(DigestTarget(t.channel, t.destination) for t in self.targets),
            movers=self.movers,
            min_responses=self.min_responses,
            trend_periods=self.trend_periods,
        )


def digest_problems(digest: DigestConfig | None, channels: Mapping[str, BaseModel]) -> list[str]:
    """A chat or webhook target goes out through the profile's own channel of that name, its destination in the
    form that channel reads; a webhook target is a URL. Email targets need an SMTP server (`email_problems`)."""
    if digest is None:
        return []
    problems = []
    for i, t in enumerate(digest.targets):
        where = f"digest.targets[{i}]"
        if t.channel == EMAIL.name:
            if not ADDRESS.fullmatch(t.destination):
                problems.append(f"{where}.destination: expected an email address, e.g. leads@example.com")
        elif t.channel not in channels:
            problems.append(f"{where}.channel: the profile has no {t.channel} channel configured")
        elif t.channel == "webhook" and not t.destination.startswith(("https://", "http://")):
            problems.append(f"{where}.destination: expected an https:// (or http://) URL")
    problems += alert_problems(digest.targets, channels, key="digest.targets")  # the form each channel reads
    return problems


class Profile(Protocol):
    digest: DigestConfig | None
    smtp: EmailConfig | None
    channels: dict[str, BaseModel]


def email_channels(profiles: Mapping[str, Profile], shared: EmailConfig | None) -> list[str]:
    """A profile with email targets sends them through its own `smtp`, else the top-level one, as its email
    channel; without either, the first such target is a problem."""
    problems = []
    for name, profile in profiles.items():
        digest = profile.digest
        if digest is None or not any(t.channel == EMAIL.name for t in digest.targets):
            continue
        smtp = profile.smtp or shared
        if smtp is None:
            i = next(i for i, t in enumerate(digest.targets) if t.channel == EMAIL.name)
            problems.append(
                f"profiles.{name}.digest.targets[{i}].channel: email needs an smtp block (top level or profile)"
            )
        else:
            profile.channels.setdefault(EMAIL.name, smtp)
    return problems
