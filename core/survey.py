"""The survey lifecycle as a pure function: no clock, no I/O, so every transition is testable and replayable.

pending → asked → scored → completed, with expired, skipped (throttled / opted out / duplicate / reopened / not
sampled) and opted_out as the other ends. Once scored, a survey always completes: an opt-out then keeps the score.
A question waits out the customer's quiet hours; an unanswered one gets at most one reminder (core/asking).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from core.asking import allowed_at, in_sample, question_text, reminder_at
from core.messages import MessageCatalog, normalize_locale
from core.quiet_hours import QuietHours, customer_zone
from core.replies import interpret
from core.scoring import classify
from core.types import (
    Action,
    Address,
    AlertDetractor,
    AskComment,
    AskScore,
    ConversationClosed,
    ConversationReopened,
    Emit,
    MarkAnswered,
    OptOut,
    Say,
    ScoreGiven,
    TextReceived,
    Tick,
)
from core.variants import Variant, choose, contact_key


class State(enum.StrEnum):
    PENDING = "pending"
    ASKED = "asked"
    SCORED = "scored"
    COMPLETED = "completed"
    EXPIRED = "expired"
    SKIPPED = "skipped"
    OPTED_OUT = "opted_out"


OPEN_STATES = frozenset({State.PENDING, State.ASKED, State.SCORED})
ANSWERABLE_STATES = frozenset({State.ASKED, State.SCORED})


class SkipReason(enum.StrEnum):
    THROTTLED = "throttled"
    OPTED_OUT = "opted_out"
    DUPLICATE = "duplicate"
    REOPENED = "reopened"
    UNREACHABLE = "unreachable"
    OUTSIDE_WINDOW = "outside_window"  # the platform's messaging window had closed and nothing could reopen it
    UNINSTALLED = "uninstalled"  # the workspace removed the app (Slack app_uninstalled / tokens_revoked)
    SUPPRESSED = "suppressed"  # the person was erased on request and is never surveyed again
    NOT_SAMPLED = "not_sampled"  # the profile's sample rate left this conversation out (core/sampling)


class Kind(enum.StrEnum):
    """Why the survey exists: a conversation closed (transactional) or a campaign asked (relational)."""

    TRANSACTIONAL = "transactional"
    RELATIONAL = "relational"


@dataclass(frozen=True, slots=True)
class Policy:
    """Per-profile survey rules; the catalogue travels with it so texts follow the profile's overrides. The defaults
    are written here only: a profile's `policy` keys in the config file default to these."""

    brand: str = "us"
    locale: str = "en"
    send_delay: timedelta = timedelta(0)
    expiry: timedelta = timedelta(hours=24)
    comment_window: timedelta = timedelta(hours=1)
    throttle: timedelta = timedelta(days=30)
    reask_limit: int = 1
    review_url: str | None = None
    messages: MessageCatalog = field(default_factory=MessageCatalog)
    # The survey programme's rules. sample: the share of closed conversations asked, chosen per contact and
    # sample_period (core/sampling; None: the throttle window). quiet_hours are read in the customer's zone,
    # `timezone` being the profile's default. reminder: when an unanswered question is sent once more (None: never).
    # variants: the profile's experiment on transactional surveys; campaign_variants: each campaign's, by name.
    sample: float = 1.0
    sample_period: timedelta | None = None
    quiet_hours: QuietHours | None = None
    timezone: str = "UTC"
    reminder: timedelta | None = None
    variants: tuple[Variant, ...] = ()
    campaign_variants: Mapping[str, tuple[Variant, ...]] = field(default_factory=dict)
    # campaign_expiry: how long a campaign's question stays open, by campaign name (else `expiry`): a relational
    # question usually waits longer for its answer than one about a conversation that just closed.
    campaign_expiry: Mapping[str, timedelta] = field(default_factory=dict)

    def expiry_of(self, campaign: str | None) -> timedelta:
        """How long a question of this campaign (None: a transactional one) stays open."""
        return self.expiry if campaign is None else self.campaign_expiry.get(campaign, self.expiry)

    @property
    def sampling_period(self) -> timedelta:
        """The period a contact's sampling choice holds for: sample_period, else the throttle window (else a day)."""
        return self.sample_period or self.throttle or timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Survey:
    address: Address
    state: State
    locale: str
    created_at: datetime
    id: int | None = None
    case_id: str | None = None
    agent: str | None = None
    team: str | None = None
    customer_name: str | None = None
    skip_reason: SkipReason | None = None
    score: int | None = None
    comment: str | None = None
    reasks: int = 0
    unparsed: tuple[str, ...] = ()
    due_at: datetime | None = None  # pending: when the question goes out; asked: when the reminder does
    asked_at: datetime | None = None
    scored_at: datetime | None = None
    completed_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)  # the helpdesk's own fields, kept as sent
    themes: tuple[str, ...] = field(default=(), compare=False)  # what the comment mentions (core/themes), set on save
    # Set by the profile's routing rules (core/routing) when the score arrives and again when the survey completes;
    # priority None: never routed (reads as "normal"). matched_rules: the rules that matched last time.
    priority: str | None = None
    tags: tuple[str, ...] = ()
    matched_rules: tuple[str, ...] = ()
    # The survey programme: what kind of survey this is, the campaign that asked (relational only), the variant of
    # the profile's or campaign's experiment it got, the customer's IANA time zone (quiet hours) and when the one
    # reminder went out.
    kind: Kind = Kind.TRANSACTIONAL
    campaign: str | None = None
    variant: str | None = None
    timezone: str | None = None
    reminded_at: datetime | None = None
    # The stored row's delivery status, question ref and follow-up times as read (None: not read from a row), which
    # the report rollups' counters depend on; writes of a Survey never change them.
    row_extras: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def category(self) -> str | None:
        return None if self.score is None else classify(self.score)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def next_deadline(self, policy: Policy) -> datetime | None:
        """When a Tick could next change this survey; stored so due work is found by an index, not a scan."""
        if self.state is State.PENDING:
            return self.due_at
        if self.state is State.ASKED and self.asked_at is not None:
            expires = self.asked_at + policy.expiry_of(self.campaign)
            return self.due_at if self.due_at is not None and self.due_at < expires else expires
        if self.state is State.SCORED and self.scored_at is not None:
            return self.scored_at + policy.comment_window
        return None


@dataclass(frozen=True, slots=True)
class ContactStatus:
    """What the store knows about the customer when a conversation closes."""

    opted_out: bool = False
    unreachable: bool = False
    last_surveyed_at: datetime | None = None
    has_open_survey_for_case: bool = False
    locale: str | None = None  # last language the platform reported for this customer
    uninstalled: bool = False  # the conversation's workspace removed the app: nothing can reach it any more
    suppressed: bool = False  # on the suppression list (erased on request): never surveyed again
    timezone: str | None = None  # the contact record's IANA time zone (operator-maintained), before any hint


Transition = tuple[Survey, list[Action]]


def start(event: ConversationClosed, contact: ContactStatus, policy: Policy, now: datetime) -> Transition:
    """Create the survey for a closed conversation; a zero send delay asks at once (unless in quiet hours). Its
    variant of the profile's experiment may bring its own send delay."""
    locale = normalize_locale(event.locale or contact.locale, policy.messages.locales(), policy.locale)
    a = event.address
    variant = choose(policy.variants, contact_key(a.profile, a.channel, a.user_id))
    delay = policy.send_delay if variant is None or variant.send_delay is None else variant.send_delay
    survey = Survey(
        address=event.address,
        state=State.PENDING,
        locale=locale,
        created_at=now,
        case_id=event.case_id or event.address.conversation_id,
        agent=event.agent,
        team=event.team,
        customer_name=event.customer_name,
        due_at=now + delay,
        metadata=dict(event.metadata),
        variant=None if variant is None else variant.name,
        timezone=customer_zone(contact.timezone, event.timezone, policy.timezone),
    )
    reason = _skip_reason(contact, policy, now)
    if reason is None and not in_sample(a, policy.sample, policy.sampling_period, now):
        reason = SkipReason.NOT_SAMPLED  # after the other reasons: a skip is counted under the first that applies
    if reason is not None:
        return replace(survey, state=State.SKIPPED, skip_reason=reason, due_at=None, variant=None), []
    if delay <= timedelta(0):
        return _ask_when_allowed(survey, policy, now)
    return survey, []


def _skip_reason(contact: ContactStatus, policy: Policy, now: datetime) -> SkipReason | None:
    if contact.suppressed:
        return SkipReason.SUPPRESSED
    if contact.has_open_survey_for_case:
        return SkipReason.DUPLICATE
    if contact.uninstalled:
        return SkipReason.UNINSTALLED
    if contact.opted_out:
        return SkipReason.OPTED_OUT
    if contact.unreachable:
        return SkipReason.UNREACHABLE
    if contact.last_surveyed_at is not None and now - contact.last_surveyed_at < policy.throttle:
        return SkipReason.THROTTLED
    return None


def skip_when_due(survey: Survey, contact: ContactStatus, policy: Policy, now: datetime) -> Survey | None:
    """A pending survey whose question is due, skipped instead when its contact can no longer be asked: opted out,
    unreachable, erased, the workspace gone, or asked another survey within the throttle window since the survey
    was created (a campaign's survey waits days in its send window; a delayed one, its delay). None: ask it.
    `contact` is read when the question is due; a survey's own asking only ever moves last_surveyed_at later."""
    if survey.state is not State.PENDING or survey.due_at is None or now < survey.due_at:
        return None
    reason = _skip_reason(replace(contact, has_open_survey_for_case=False), policy, now)
    if reason is None:
        return None
    return replace(survey, state=State.SKIPPED, skip_reason=reason, due_at=None, completed_at=now)


def step(survey: Survey, event: object, policy: Policy, now: datetime) -> Transition:
    """Apply one event; anything that does not fit the current state changes nothing."""
    if not survey.is_open:
        return survey, []
    if isinstance(event, Tick):
        return _tick(survey, policy, now)
    if isinstance(event, ConversationReopened):
        if survey.state in (State.PENDING, State.ASKED):
            return replace(survey, state=State.SKIPPED, skip_reason=SkipReason.REOPENED, completed_at=now), []
        return survey, []
    if isinstance(event, OptOut):
        if survey.state is State.SCORED:  # the score was given and stands; only the comment is lost
            return _complete(survey, None, policy, now)
        return replace(survey, state=State.OPTED_OUT, completed_at=now), []
    if isinstance(event, ScoreGiven):
        if survey.state is State.ASKED:
            return _scored(survey, event.score, policy, now)
        return survey, []
    if isinstance(event, TextReceived):
        if survey.state is State.PENDING:  # nothing was asked yet, so nothing can be answered
            return survey, []
        return _text(survey, event.text, policy, now)
    raise TypeError(f"unknown event {type(event).__name__}")


def opts_out(actions: list[Action]) -> bool:
    """Whether a transition recorded the customer's wish to get no more surveys (stored on the contact)."""
    return any(isinstance(a, Say) and a.purpose == "optout_confirm" for a in actions)


def _tick(survey: Survey, policy: Policy, now: datetime) -> Transition:
    deadline = survey.next_deadline(policy)
    if deadline is None or now < deadline:
        return survey, []
    if survey.state is State.PENDING:
        return _ask_when_allowed(survey, policy, now)
    if survey.state is State.ASKED:
        assert survey.asked_at is not None
        if now >= survey.asked_at + policy.expiry_of(survey.campaign):
            return replace(survey, state=State.EXPIRED, completed_at=now), []
        return _remind(survey, policy, now)
    return _complete(survey, None, policy, now)


def _zone(survey: Survey, policy: Policy) -> str:
    """The customer's zone for quiet hours: the survey's (a campaign may leave it unset), else the profile's."""
    if policy.quiet_hours is None:  # read only for quiet hours: no need to look the zone up
        return "UTC"
    return customer_zone(survey.timezone, policy.timezone)


def _ask_when_allowed(survey: Survey, policy: Policy, now: datetime) -> Transition:
    """Ask now, or wait until the customer's quiet hours are over."""
    allowed = allowed_at(now, policy.quiet_hours, _zone(survey, policy))
    if allowed > now:
        return replace(survey, due_at=allowed), []
    return _ask(survey, policy, now)


def _ask(survey: Survey, policy: Policy, now: datetime) -> Transition:
    m, loc = policy.messages, survey.locale
    variants = policy.campaign_variants.get(survey.campaign, ()) if survey.campaign else policy.variants
    action = AskScore(
        text=question_text(variants, survey.variant, loc, m, policy.brand),
        low_label=m.text("scale_low", loc),
        high_label=m.text("scale_high", loc),
    )
    expiry = policy.expiry_of(survey.campaign)
    remind = reminder_at(now, policy.reminder, expiry, policy.quiet_hours, _zone(survey, policy))
    return replace(survey, state=State.ASKED, asked_at=now, due_at=remind), [action]


def _remind(survey: Survey, policy: Policy, now: datetime) -> Transition:
    """The one reminder of an unanswered question, when it is due; held while the customer's quiet hours last, and
    dropped when those last until the question expires (or the profile no longer sends reminders)."""
    assert survey.asked_at is not None
    if policy.reminder is None or survey.reminded_at is not None:
        return replace(survey, due_at=None), []
    allowed = allowed_at(now, policy.quiet_hours, _zone(survey, policy))
    if allowed > now:
        expires = survey.asked_at + policy.expiry_of(survey.campaign)
        return replace(survey, due_at=allowed if allowed < expires else None), []
    reminder = Say(policy.messages.text("reminder", survey.locale, brand=policy.brand), purpose="reminder")
    return replace(survey, reminded_at=now, due_at=None), [reminder]


def _scored(survey: Survey, score: int, policy: Policy, now: datetime) -> Transition:
    category = classify(score)
    m, loc = policy.messages, survey.locale
    scored = replace(survey, state=State.SCORED, score=score, scored_at=now, due_at=None)
    actions: list[Action] = [
        MarkAnswered(score=score, text=m.text("your_score", loc, score=score)),
        AskComment(
            text=m.text(f"comment_question_{category}", loc, score=score),
            category=category,
            add_comment_label=m.text("add_comment", loc),
        ),
        Emit("survey.responded"),
    ]
    return scored, actions


def _text(survey: Survey, text: str, policy: Policy, now: datetime) -> Transition:
    reading = interpret(text)
    m, loc = policy.messages, survey.locale
    if reading.kind == "opt_out":
        confirm = Say(m.text("optout_confirm", loc, brand=policy.brand), purpose="optout_confirm")
        if survey.state is State.SCORED:
            # A score given before the opt-out still counts (and still alerts on a detractor); no thanks follow.
            done, actions = _complete(survey, None, policy, now)
            return done, [confirm, *actions]
        return replace(survey, state=State.OPTED_OUT, completed_at=now), [confirm]
    if survey.state is State.SCORED:
        return _complete(survey, text.strip() or None, policy, now)
    if reading.kind == "score" and reading.score is not None:
        return _scored(survey, reading.score, policy, now)
    kept = replace(survey, unparsed=(*survey.unparsed, text))
    if survey.reasks < policy.reask_limit:
        reask = Say(m.text("reask", loc), purpose="reask")
        return replace(kept, reasks=survey.reasks + 1), [reask]
    return kept, []


def _complete(survey: Survey, comment: str | None, policy: Policy, now: datetime) -> Transition:
    done = replace(survey, state=State.COMPLETED, comment=comment, completed_at=now)
    m, loc = policy.messages, survey.locale
    actions: list[Action] = []
    if comment is not None:
        actions.append(Say(m.text("thanks", loc), purpose="thanks"))
        if survey.category == "promoter" and policy.review_url:
            actions.append(Say(m.text("review_invite", loc, url=policy.review_url), purpose="review_invite"))
    actions.append(Emit("survey.completed"))
    if survey.category == "detractor" and survey.score is not None:
        actions.append(AlertDetractor(score=survey.score, comment=comment))
        actions.append(Emit("detractor.created"))
    return done, actions
