"""`profiles.<name>`: one profile's keys (its brand, channels, alerts, rules, themes, digest, campaigns …), each
checked on its own and then together, and turned into the core.profiles.ProfileSettings the service runs with."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from bots.campaign_config import CampaignConfig, campaign_expiry, campaign_problems, to_campaigns
from bots.channel_checks import alert_problems
from bots.channels import discover
from bots.config_problems import Nested, Strict, below, problem_lines
from bots.digest_config import DigestConfig, EmailConfig, digest_problems
from bots.policy_config import PolicyConfig
from bots.retention_config import RedactionConfig, RetentionConfig
from bots.routing_config import EVENT_NAME, RuleConfig, TargetConfig, rule_problems, subscription_problems, to_rules
from core.messages import LOCALES, MessageCatalog, language, validate_overrides
from core.profiles import EVENT_TYPES, ProfileSettings, Subscription
from core.survey import Policy
from core.themes.matcher import ThemeMatcher
from core.themes.matcher import problems as theme_problems


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
            raise Nested(problems)
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
                    problems += [below(name, line) for e in exc.errors() for line in problem_lines(e)]
        if problems:
            raise Nested(problems)
        return configs

    @field_validator("messages")
    @classmethod
    def _messages(cls, v: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        problems = validate_overrides(v)
        if problems:
            raise Nested([p.removeprefix("messages.") for p in problems])
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
            raise Nested(problems)
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
