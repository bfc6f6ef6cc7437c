"""`profiles.<name>.campaigns`: relational campaigns in the YAML file, checked key by key (every problem named by its
path, e.g. `profiles.acme.campaigns[0].schedule: ...`) and turned into core.campaigns.Campaign.

    campaigns:
      - name: quarterly
        schedule: "0 9 1 1,4,7,10 *"      # or "every 90d"
        timezone: Europe/Madrid
        audience:
          attributes: {plan: [pro, enterprise], segment: {not: churned}, company: {present: true}}
          locales: [es, en]
          consent: granted
        sample: 0.5
        channels: [telegram, webhook]
        send_window: 3d
        expiry: 7d                        # how long its question stays open (default: the profile's policy.expiry)
        variants:
          - {name: short, question: {en: "How likely are you to recommend {brand}?"}}
          - {name: later, send_delay: 2h}
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from bots.config_problems import Strict
from bots.durations import Duration, QuestionExpiry
from bots.zone_names import ZoneName
from core.campaigns import FULL_SAMPLE, SEND_WINDOW, Audience, Campaign, Condition
from core.messages import LOCALES, language
from core.schedules import Schedule
from core.variants import Variant, experiment_problems

CAMPAIGN_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
ATTRIBUTE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}")
Scalar = str | int | float | bool


def _text(value: Scalar) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


class AttributeTest(Strict):
    """The written-out forms of a condition: `{not: value or [values]}` or `{present: true|false}`."""

    not_: Scalar | list[Scalar] | None = Field(None, alias="not")
    present: bool | None = None

    @model_validator(mode="after")
    def _one(self) -> AttributeTest:
        if (self.not_ is None) == (self.present is None):
            raise ValueError("write one of {not: value} or {present: true|false}")
        return self


class AudienceConfig(Strict):
    """Who is asked. attributes: a value (equality), a list (any of them), {not: …} or {present: …} per key;
    locales: languages (a language takes its regional forms); channels: only contacts on these; consent: `granted`
    asks only who granted it (`any`, the default, asks all but who denied it)."""

    attributes: dict[str, Scalar | list[Scalar] | AttributeTest] = Field(default_factory=dict)
    locales: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    consent: Literal["any", "granted"] = "any"

    @field_validator("attributes")
    @classmethod
    def _keys(cls, v: dict[str, Any]) -> dict[str, Any]:
        bad = sorted(k for k in v if not ATTRIBUTE_KEY.fullmatch(k))
        if bad:
            raise ValueError(f"attribute names are letters, digits, _ . - (starting with a letter or _): {bad}")
        return v

    @field_validator("locales")
    @classmethod
    def _languages(cls, v: list[str]) -> list[str]:
        bad = [x for x in v if not re.fullmatch(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*", x)]
        if bad:
            raise ValueError(f"not a language tag (en, es-MX): {bad}")
        return v

    def audience(self) -> Audience:
        conditions = []
        for key, test in self.attributes.items():
            if isinstance(test, AttributeTest):
                if test.present is not None:
                    conditions.append(Condition(key, present=test.present))
                else:
                    negated = test.not_ if isinstance(test.not_, list) else [test.not_]
                    conditions.append(Condition(key, tuple(_text(x) for x in negated if x is not None), negate=True))
            else:
                values = test if isinstance(test, list) else [test]
                conditions.append(Condition(key, tuple(_text(x) for x in values)))
        return Audience(tuple(conditions), tuple(self.locales), tuple(self.channels), self.consent == "granted")


class VariantConfig(Strict):
    """One arm of the campaign's experiment: its wording per locale (may use {brand}) and/or its own send delay."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    question: dict[str, str] = Field(default_factory=dict)
    send_delay: Duration | None = None

    @field_validator("question")
    @classmethod
    def _locales(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(k for k in v if language(k) not in LOCALES)
        if unknown:
            raise ValueError(f"no texts for languages {unknown} (built in: {' '.join(LOCALES)})")
        empty = sorted(k for k, text in v.items() if not text.strip())
        if empty:
            raise ValueError(f"empty wording for {empty}")
        return v

    def variant(self) -> Variant:
        return Variant(self.name, dict(self.question), self.send_delay)


def one_experiment(variants: Sequence[VariantConfig]) -> Sequence[VariantConfig]:
    """A campaign's or a policy's `variants`, checked as one experiment (core.variants.experiment_problems)."""
    problems = experiment_problems([x.variant() for x in variants])
    if problems:
        raise ValueError("; ".join(problems))
    return variants


class CampaignConfig(Strict):
    name: str
    schedule: str
    timezone: ZoneName | None = None  # default: the profile's policy.timezone, else UTC
    audience: AudienceConfig = Field(default_factory=AudienceConfig)
    sample: float = Field(FULL_SAMPLE, ge=0, le=1)
    channels: list[str] = Field(min_length=1)  # preference order
    send_window: Duration = SEND_WINDOW
    expiry: QuestionExpiry | None = None  # default: the profile's policy.expiry (Policy.campaign_expiry)
    variants: Annotated[list[VariantConfig], AfterValidator(one_experiment)] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not CAMPAIGN_NAME.fullmatch(v):
            raise ValueError(f"{v!r} must be lowercase letters, digits, - or _ (at most 64)")
        return v

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str) -> str:
        Schedule.parse(v)  # ValueError with the reason
        return v

    @field_validator("channels")
    @classmethod
    def _once(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"each channel once, in order of preference: {v}")
        return v

    @field_validator("send_window")
    @classmethod
    def _window(cls, v: timedelta) -> timedelta:
        if v > timedelta(days=90):
            raise ValueError("at most 90d")
        return v

    def campaign(self, default_timezone: str) -> Campaign:
        return Campaign(
            name=self.name,
            schedule=Schedule.parse(self.schedule),
            timezone=self.timezone or default_timezone,
            audience=self.audience.audience(),
            sample=self.sample,
            channels=tuple(self.channels),
            send_window=self.send_window,
            variants=tuple(x.variant() for x in self.variants),
        )


def campaign_problems(campaigns: list[CampaignConfig], channels: dict[str, Any]) -> list[str]:
    """What does not fit the profile: a campaign named twice, a channel the profile has not configured."""
    problems: list[str] = []
    seen: set[str] = set()
    for i, c in enumerate(campaigns):
        if c.name in seen:
            problems.append(f"campaigns[{i}].name: {c.name!r} is used by an earlier campaign")
        seen.add(c.name)
        problems += [
            f"campaigns[{i}].channels[{j}]: the profile has no {name} channel configured"
            for j, name in enumerate(c.channels)
            if name not in channels
        ]
        problems += [
            f"campaigns[{i}].audience.channels[{j}]: {name} is not among the campaign's channels"
            for j, name in enumerate(c.audience.channels)
            if name not in c.channels
        ]
    return problems


def to_campaigns(campaigns: list[CampaignConfig], default_timezone: str) -> tuple[Campaign, ...]:
    return tuple(c.campaign(default_timezone) for c in campaigns)


def campaign_expiry(campaigns: list[CampaignConfig]) -> dict[str, timedelta]:
    """Policy.campaign_expiry: the campaigns that set their own expiry, by name."""
    return {c.name: c.expiry for c in campaigns if c.expiry is not None}
