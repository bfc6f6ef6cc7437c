"""What the service needs to know about a profile, independent of where the configuration came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.digest_settings import DigestSettings
from core.redaction import Redaction
from core.retention import Retention
from core.survey import Policy
from core.themes.matcher import EMPTY, ThemeMatcher

EVENT_TYPES = ("survey.responded", "survey.completed", "detractor.created", "detractor.escalated")

if TYPE_CHECKING:
    from core.campaigns import Campaign
    from core.routing import Rule


@dataclass(frozen=True, slots=True)
class AlertTarget:
    """A place the support team watches: a Slack channel, a Telegram chat or a webhook URL."""

    channel: str
    destination: str


@dataclass(frozen=True, slots=True)
class Subscription:
    """An outbound event subscriber (Zapier-style) and the event types it wants."""

    url: str
    events: frozenset[str] = frozenset(EVENT_TYPES)


@dataclass(frozen=True, slots=True)
class ProfileSettings:
    name: str
    policy: Policy = field(default_factory=Policy)
    alert_targets: tuple[AlertTarget, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()
    link_template: str | None = None  # e.g. https://desk.example/conversations/{conversation_id}
    redaction: Redaction = field(default_factory=Redaction)  # personal data in comments (core.redaction)
    retention: Retention = field(default_factory=Retention)  # how long comments and personal fields are kept
    themes: ThemeMatcher = EMPTY  # the comment themes the profile's taxonomy defines
    rules: tuple[Rule, ...] = ()  # routing rules (core/routing), in the order they are read
    benchmark: float | None = None  # an operator-set reference NPS (an industry figure): core/reports/benchmark
    campaigns: tuple[Campaign, ...] = ()  # relational campaigns (core/campaigns), run on their stored schedules
    digest: DigestSettings | None = None  # the scheduled digest (core/digest_job.py), when the profile has one

    def alert_destinations(self, channel: str) -> frozenset[str]:
        """Where this profile's detractor alerts go on one channel, its routing rules' alerts and escalations
        included: the places whose members may claim and resolve them (besides the channel's listed agents)."""
        routed = (t for r in self.rules for t in (*r.then.alert, *r.then.escalate_to))
        return frozenset(t.destination for t in (*self.alert_targets, *routed) if t.channel == channel)
