"""`profiles.<name>.policy`: a profile's survey rules (timing, re-asking) and its survey programme (sampling, quiet
hours, the customer's time zone, reminders, wording experiments). What the file leaves out is core.survey.Policy's
default, written there once."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator, model_validator

from bots.campaign_config import VariantConfig, one_experiment
from bots.config_problems import Strict
from bots.durations import Duration, PositiveDuration, QuestionExpiry
from bots.zone_names import ZoneName
from core.quiet_hours import QuietHours
from core.survey import Policy

_POLICY = Policy()


class PolicyConfig(Strict):
    """A profile's survey rules; what it leaves out is core.survey.Policy's default."""

    send_delay: Duration = _POLICY.send_delay
    expiry: QuestionExpiry = _POLICY.expiry
    comment_window: Duration = _POLICY.comment_window
    throttle: Duration = _POLICY.throttle
    reask_limit: int = Field(_POLICY.reask_limit, ge=0, le=5)
    # The survey programme's rules (core/asking.py): see config.example.yaml for each.
    sample: float = Field(_POLICY.sample, ge=0, le=1)
    sample_period: PositiveDuration | None = _POLICY.sample_period  # None: the throttle window
    quiet_hours: QuietHours | None = _POLICY.quiet_hours  # written "21:00-09:00"
    timezone: ZoneName = _POLICY.timezone
    reminder: PositiveDuration | None = _POLICY.reminder
    variants: Annotated[tuple[VariantConfig, ...], AfterValidator(one_experiment)] = ()

    @field_validator("quiet_hours", mode="before")
    @classmethod
    def _quiet_hours(cls, v: Any) -> Any:
        return v if v is None or isinstance(v, QuietHours) else QuietHours.parse(v)  # ValueError with the reason

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
