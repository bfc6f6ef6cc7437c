"""What a profile's digest is: when it goes out (a stored schedule in a time zone), the period it covers, its
language and where it goes. Read from the configuration (bots/digest_config.py); used by core/digest_job.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from core.schedules import Schedule

DIGEST_CHANNELS = ("slack", "telegram", "webhook", "email")


@dataclass(frozen=True, slots=True)
class DigestTarget:
    """A Slack channel id, a Telegram chat id, an https URL or an email address, on that channel."""

    channel: str
    destination: str


@dataclass(frozen=True, slots=True)
class DigestSettings:
    schedule: Schedule
    timezone: str = "UTC"
    period: timedelta | None = None  # None: from the previous occurrence to this one
    locale: str | None = None  # None: the profile's
    targets: tuple[DigestTarget, ...] = ()
    movers: int = 3  # how many teams and agents the digest names as top movers
    min_responses: int = 10  # a team or agent with fewer responses in either period is no mover
    trend_periods: int = 8  # how many periods the trend chart looks back
