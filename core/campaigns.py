"""Relational campaigns, as pure decisions: who of a profile's contacts a campaign asks in one period, on which of
their channels, and when within the send window. No clock and no I/O, so a rerun of the same period (after a crash,
or by hand) decides the same: the spread and the sample hash the person and the period, never a random draw.

A person is the contacts sharing an `external_id` (a contact without one is a person of its own): they get one
survey per period, on the first channel in the campaign's preference order whose contact can be reached."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from core.sampling import sampled
from core.schedules import Schedule
from core.variants import Variant, choose, contact_key

CONSENT_GRANTED = "granted"
CONSENT_DENIED = "denied"
# Why a person was not asked, in the order they are looked at; "due" is asked.
OUTCOMES = ("outside", "no_channel", "suppressed", "consent_denied", "opted_out", "unreachable", "throttled",
            "not_sampled", "due")  # fmt: skip
CASE_ID_WIDTH = 191  # surveys.case_id
SEND_WINDOW = timedelta(days=3)  # a campaign's default: its questions spread over three days
FULL_SAMPLE = 1.0


def _plain(value: Any) -> str:
    """Attribute values compared as text, so `plan: 3` in the file matches "3" imported from a CSV."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True, slots=True)
class Condition:
    """One test on a contact attribute: membership in `values` (one value: equality), negated by `negate`; or,
    with `present` set, whether the attribute is there at all (an empty value counts as absent)."""

    key: str
    values: tuple[str, ...] = ()
    negate: bool = False
    present: bool | None = None

    def holds(self, attributes: Mapping[str, Any]) -> bool:
        value = attributes.get(self.key)
        if self.present is not None:
            return (value not in (None, "", [])) == self.present
        found = value if isinstance(value, list) else [] if value is None else [value]
        hit = any(_plain(v) in self.values for v in found)
        return hit != self.negate


@dataclass(frozen=True, slots=True)
class Audience:
    """Who a campaign is for: every condition on the attributes, a language among `locales` (a language matches its
    regional forms: "es" takes "es-MX"), a channel among `channels`, and explicit consent when `consent_required`.
    Empty means no restriction."""

    conditions: tuple[Condition, ...] = ()
    locales: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    consent_required: bool = False

    def includes(self, contact: CampaignContact) -> bool:
        if self.channels and contact.channel not in self.channels:
            return False
        if self.consent_required and contact.consent != CONSENT_GRANTED:
            return False
        if self.locales and not _speaks(contact.locale, self.locales):
            return False
        return all(c.holds(contact.attributes) for c in self.conditions)


def _speaks(locale: str | None, locales: Sequence[str]) -> bool:
    if not locale:
        return False
    tag = locale.replace("_", "-").lower()
    return any(tag == w.lower() or tag.startswith(w.lower() + "-") for w in locales)


@dataclass(frozen=True, slots=True)
class Campaign:
    """A profile's recurring relational survey (config key `campaigns:`, bots/campaign_config.py)."""

    name: str
    schedule: Schedule
    timezone: str = "UTC"
    audience: Audience = field(default_factory=Audience)
    sample: float = FULL_SAMPLE
    channels: tuple[str, ...] = ()  # preference order
    send_window: timedelta = SEND_WINDOW
    variants: tuple[Variant, ...] = ()


@dataclass(frozen=True, slots=True)
class CampaignContact:
    """A contact as a campaign sees it; `suppressed`: its address is on the suppression list (erased on request)."""

    id: int
    channel: str
    user_id: str
    conversation_id: str | None = None
    workspace: str | None = None
    locale: str | None = None
    timezone: str | None = None
    name: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    consent: str | None = None
    external_id: str | None = None
    opted_out: bool = False
    unreachable: bool = False
    last_surveyed_at: datetime | None = None
    suppressed: bool = False

    @property
    def person(self) -> str:
        """The key of the person this contact belongs to."""
        return f"x:{self.external_id}" if self.external_id else f"c:{self.channel}:{self.user_id}"


@dataclass(frozen=True, slots=True)
class Decision:
    """What the campaign does about one person this period: `outcome` (one of OUTCOMES); when due, the contact
    asked, its variant's name and when the question is due."""

    person: str
    outcome: str
    contact: CampaignContact | None = None
    variant: str | None = None
    due_at: datetime | None = None


def period_key(occurrence: datetime) -> str:
    """The period an occurrence opens, as stored in a survey's case: its UTC instant to the minute."""
    return occurrence.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


def period_index(occurrence: datetime) -> int:
    """The period as the number core.sampling draws with: minutes since the epoch of its occurrence."""
    return int(occurrence.astimezone(UTC).timestamp()) // 60


def _fraction(*parts: str) -> float:
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def spread(start: datetime, window: timedelta, person: str, period: str) -> datetime:
    """When in [start, start + window) the person's question is due: the same every time for one period, evenly
    spread over many people, so a million contacts are not asked in one burst. Whole seconds."""
    offset = int(window.total_seconds() * _fraction("spread", person, period))
    return start + timedelta(seconds=offset)


def case_id(campaign: str, period: str, person: str) -> str:
    """The survey's case: one per campaign, period and person (a repeated run inserts nothing new)."""
    written = f"campaign:{campaign}:{period}:{person}"
    if len(written) <= CASE_ID_WIDTH:
        return written
    return f"campaign:{campaign}:{period}:h:{hashlib.blake2b(person.encode(), digest_size=16).hexdigest()}"


def case_key(profile: str, case: str) -> str:
    """The survey's unique case key, independent of the channel chosen (so a changed preference between two runs
    of one period cannot ask the person twice)."""
    return f"{profile}\x1f*\x1f{case}"


def people(contacts: Iterable[CampaignContact]) -> dict[str, list[CampaignContact]]:
    """Contacts grouped by person, each group in id order."""
    groups: dict[str, list[CampaignContact]] = {}
    for c in sorted(contacts, key=lambda c: c.id):
        groups.setdefault(c.person, []).append(c)
    return groups


def _blocked(contact: CampaignContact) -> str | None:
    if contact.suppressed:
        return "suppressed"
    if contact.consent == CONSENT_DENIED:
        return "consent_denied"
    if contact.opted_out:
        return "opted_out"
    if contact.unreachable:
        return "unreachable"
    return None


@dataclass(frozen=True, slots=True)
class Period:
    """One run's fixed inputs: the profile, the occurrence's period and the start of its send window, the time the
    throttle is measured at and the profile's throttle."""

    profile: str
    occurrence: datetime
    start: datetime
    now: datetime
    throttle: timedelta

    key: str = ""  # period_key(occurrence), filled in once

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", period_key(self.occurrence))


def decide(campaign: Campaign, period: Period, person: str, contacts: Sequence[CampaignContact]) -> Decision:
    """The campaign's decision about one person (all their contacts, in id order)."""
    candidates = [c for c in contacts if campaign.audience.includes(c)]
    if not candidates:
        return Decision(person, "outside")
    rank = {channel: i for i, channel in enumerate(campaign.channels)}
    ordered = sorted((c for c in candidates if c.channel in rank), key=lambda c: (rank[c.channel], c.id))
    if not ordered:
        return Decision(person, "no_channel")
    reachable = [c for c in ordered if _blocked(c) is None]
    if not reachable:
        return Decision(person, _blocked(ordered[0]) or "unreachable")
    # The throttle is the person's: a survey of either kind on any of their channels counts.
    last = max((c.last_surveyed_at for c in contacts if c.last_surveyed_at is not None), default=None)
    if last is not None and period.now - last < period.throttle:
        return Decision(person, "throttled")
    if not sampled(
        campaign.sample, period.profile, f"campaign:{campaign.name}", person, period_index(period.occurrence)
    ):
        return Decision(person, "not_sampled")
    chosen = reachable[0]
    variant = choose(campaign.variants, contact_key(period.profile, chosen.channel, chosen.user_id, campaign.name))
    due = spread(period.start, campaign.send_window, person, period.key)
    if variant is not None and variant.send_delay:
        due += variant.send_delay
    return Decision(person, "due", chosen, None if variant is None else variant.name, due)


def tally(decisions: Iterable[Decision]) -> dict[str, int]:
    counts = dict.fromkeys(OUTCOMES, 0)
    for d in decisions:
        counts[d.outcome] += 1
    return counts
