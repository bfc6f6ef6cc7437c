"""The configuration of personal data kept and shown: a profile's `redaction` and `retention`, and the top-level
`pruning` of operational rows. What the file leaves out is core.redaction's / core.retention's default."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from bots.config_problems import Strict
from bots.durations import Duration, PositiveDuration
from core.redaction import Mode, Redaction, compile_pattern, default_region, region_code
from core.retention import MIN_DELIVERY_KEYS, Pruning, Retention

_REDACTION = Redaction()
_RETENTION = Retention()
_PRUNING = Pruning()
MAX_PATTERNS = 50


def _pattern_name(name: str) -> str:
    compile_pattern(name, "x")  # the name's own rules (the pattern is checked on its own)
    return name


def _pattern(source: str) -> str:
    compile_pattern("pattern", source)
    return source


class RedactionConfig(Strict):
    """`store_redacted` (the default): emails, phone numbers, card numbers, IBANs and the operator's patterns never
    reach the database. `show_redacted`: stored as written, redacted in alerts, the dashboard, the API, CSV and
    outbound events. `off`: shown as written."""

    mode: Mode = _REDACTION.mode
    phone_region: Annotated[str, AfterValidator(region_code)] | None = None  # default: from the profile's locale
    # Each pattern is compiled and checked here, so a bad one fails check-config with its key path.
    patterns: dict[Annotated[str, AfterValidator(_pattern_name)], Annotated[str, AfterValidator(_pattern)]] = Field(
        default_factory=dict, max_length=MAX_PATTERNS
    )

    def settings(self, locale: str) -> Redaction:
        return Redaction(
            mode=self.mode,
            phone_region=self.phone_region or default_region(locale),
            patterns=tuple((name, compile_pattern(name, source)) for name, source in self.patterns.items()),
        )


class RetentionConfig(Strict):
    """Days after a survey ended; unset keeps the data."""

    comments_days: int | None = Field(_RETENTION.comments_days, ge=1, le=36500)
    personal_days: int | None = Field(_RETENTION.personal_days, ge=1, le=36500)
    keep_metadata: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(default_factory=list)

    def settings(self) -> Retention:
        return Retention(self.comments_days, self.personal_days, tuple(self.keep_metadata))


class PruningConfig(Strict):
    sent_messages: PositiveDuration = _PRUNING.sent_messages
    dead_letters: PositiveDuration = _PRUNING.dead_letters
    delivery_keys: Duration = _PRUNING.delivery_keys
    dead_requests: PositiveDuration = _PRUNING.dead_requests
    every: PositiveDuration = _PRUNING.every
    batch: int = Field(_PRUNING.batch, ge=10, le=100_000)

    @field_validator("delivery_keys")
    @classmethod
    def _outlives_redelivery(cls, v: timedelta) -> timedelta:
        if v < MIN_DELIVERY_KEYS:
            raise ValueError(
                f"must be at least {MIN_DELIVERY_KEYS.days}d: platforms redeliver for up to 7 days (WhatsApp), "
                "and a key pruned sooner would let a redelivery count twice"
            )
        return v

    def settings(self) -> Pruning:
        return Pruning(
            sent_messages=self.sent_messages,
            dead_letters=self.dead_letters,
            delivery_keys=self.delivery_keys,
            dead_requests=self.dead_requests,
            every=self.every,
            batch=self.batch,
        )
