"""Applies events to surveys: dedup key, state change and outbox rows are written in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from core.ask_checks import contacts_when_due, due_to_ask, erase_pending
from core.contacts import zone_hint
from core.escalation import escalate, log_escalations
from core.last_inbound import last_message_hint
from core.outbound import messages_for
from core.profiles import ProfileSettings
from core.question_status import QuestionStatus
from core.redaction import stored_survey
from core.routing_step import route_step
from core.store import Store, contacts_seen, reachability, replays, survey_lookup
from core.store import contacts as contacts_q
from core.store import installations as installs
from core.store import outbox as ob
from core.store import question_status as qs
from core.store import sla as sla_q
from core.store import surveys as q
from core.store import themes as stored_themes
from core.store.steps import save_step
from core.suppression import SuppressionKeys, anonymised, anonymous_marker
from core.survey import OPEN_STATES, SkipReason, State, Survey, opts_out, skip_when_due, start, step
from core.transitions import Transition
from core.types import (
    Action,
    ConversationClosed,
    ConversationReopened,
    Emit,
    InboundEvent,
    OptOut,
    ScoreGiven,
    TextReceived,
    Tick,
    without_nul,
)

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """Aware UTC everywhere; the tables store UTC and hand it back aware on SQLite and PostgreSQL alike."""
    return datetime.now(UTC)


class UnknownProfile(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened, so an adapter can answer the platform (a toast, an ephemeral note) without a second query.

    status: ok | duplicate | no_survey | not_yours | closed | already_answered
    """

    status: str
    survey: Survey | None = None
    actions: tuple[Action, ...] = ()
    transition: Transition | None = None  # the survey's change of state, logged once committed


class SurveyService:
    def __init__(
        self,
        store: Store,
        profiles: Mapping[str, ProfileSettings],
        clock: Callable[[], datetime] = utcnow,
        suppression: SuppressionKeys | None = None,
    ) -> None:
        self.store = store
        self.profiles = profiles
        self.clock = clock
        self.suppression = suppression or SuppressionKeys()  # the keys of the suppression list's hashes

    def profile(self, name: str) -> ProfileSettings:
        try:
            return self.profiles[name]
        except KeyError:
            raise UnknownProfile(name) from None

    async def handle(self, event: InboundEvent, *, dedup_key: str | None = None) -> Outcome:
        """Apply one inbound event exactly once (per dedup key)."""
        event = without_nul(event)
        settings = self.profile(event.address.profile)
        for attempt in (1, 2):
            try:
                outcome = await self._handle_once(event, settings, dedup_key)
            except IntegrityError:
                # A concurrent close of the same case won the unique key; the retry sees it as a duplicate.
                if attempt == 2:
                    raise
                log.info("retrying %s after a concurrent write", type(event).__name__)
            else:
                if outcome.transition is not None:
                    outcome.transition.log()
                return outcome
        raise AssertionError("unreachable")

    async def _handle_once(self, event: InboundEvent, settings: ProfileSettings, dedup_key: str | None) -> Outcome:
        now = self.clock()

        async def work(conn: Any) -> Outcome:
            if isinstance(event, TextReceived):
                return await self._text(conn, event, settings, now, dedup_key)
            if dedup_key is not None and not await survey_lookup.claim_inbound(conn, dedup_key, now):
                return Outcome("duplicate")
            outcome = await self._route(conn, event, settings, now)
            if dedup_key is not None and isinstance(event, ConversationClosed) and outcome.survey is not None:
                await replays.remember_survey(conn, dedup_key, outcome.survey.id)
            return outcome

        return await self.store.run_in_transaction(work)

    async def survey(self, survey_id: int, profile: str, channel: str) -> Survey | None:
        """The survey with that id if it is this profile's on this channel, else None: an id from a button is
        client input, and another profile's (or channel's) survey is not the caller's to touch."""
        async with self.store.read() as conn:
            found = await q.get_survey(conn, survey_id)
            if found is None or (found.address.profile, found.address.channel) != (profile, channel):
                return None
            return await stored_themes.with_themes(conn, found)

    async def created_by(self, dedup_key: str) -> Survey | None:
        """The survey the first delivery with this key created, for answering its replays (None for a key that
        created none, or was recorded before keys remembered their survey)."""
        async with self.store.read() as conn:
            survey_id = await replays.survey_created_by(conn, dedup_key)
            found = None if survey_id is None else await q.get_survey(conn, survey_id)
            return None if found is None else await stored_themes.with_themes(conn, found)

    async def _route(self, conn: Any, event: InboundEvent, settings: ProfileSettings, now: datetime) -> Outcome:
        """Hands each kind of event to the step that handles it."""
        if isinstance(event, ConversationClosed):
            return await self._closed(conn, event, settings, now)
        if isinstance(event, OptOut):
            await reachability.touch_contact(conn, event.address, opted_out_at=now)
            survey = await survey_lookup.find_survey(conn, event.address, OPEN_STATES)
            if survey is None:
                return Outcome("ok")
            return await self._apply(conn, survey, event, settings, now)
        if isinstance(event, ScoreGiven):
            return await self._score(conn, event, settings, now)
        if isinstance(event, ConversationReopened):
            survey = await survey_lookup.find_survey(conn, replace(event.address, user_id=""), OPEN_STATES)
            if survey is None:
                return Outcome("no_survey")
            return await self._apply(conn, survey, event, settings, now)
        raise TypeError(f"unsupported event {type(event).__name__}")

    async def _text(
        self, conn: Any, event: TextReceived, settings: ProfileSettings, now: datetime, dedup_key: str | None
    ) -> Outcome:
        """A chat message, the most frequent event: finding the survey and claiming the delivery key take one
        statement on PostgreSQL. Without a survey the key is still recorded, so a message redelivered after a
        survey has opened is known as the old message it is, not taken for a reply."""
        if dedup_key is None:
            survey, claimed = await survey_lookup.find_survey(conn, event.address, reply_to=event.reply_to), True
        else:
            survey, claimed = await survey_lookup.find_and_claim(
                conn, event.address, dedup_key, now, reply_to=event.reply_to
            )
        if survey is not None:
            return await self._apply(conn, survey, event, settings, now) if claimed else Outcome("duplicate")
        if dedup_key is not None and not await survey_lookup.claim_inbound(conn, dedup_key, now):
            return Outcome("duplicate")
        if event.locale:  # remember the customer's language for the survey that may follow
            await reachability.touch_contact(conn, event.address, locale=event.locale[:16])
        return Outcome("no_survey")

    async def _closed(self, conn: Any, event: ConversationClosed, settings: ProfileSettings, now: datetime) -> Outcome:
        case_id = event.case_id or event.address.conversation_id
        a = event.address
        listed_as = await self.suppression.lookup(conn, a.profile, a.channel, a.user_id, now)
        contact = await reachability.contact_status(conn, event.address, case_id, listed_as)
        if event.address.workspace is not None and await installs.removed(conn, event.address):
            contact = replace(contact, uninstalled=True)
        survey, actions = start(replace(event, case_id=case_id), contact, settings.policy, now)
        if contact.suppressed:  # erased on request: the skip is counted, and the row names nobody
            return await self._suppressed(conn, survey, settings)
        survey_id = await q.insert_survey(conn, survey, settings.policy)
        survey = replace(survey, id=survey_id)
        await reachability.touch_contact(
            conn,
            event.address,
            locale=event.locale,
            name=event.customer_name,
            last_surveyed_at=now if survey.state is State.ASKED else None,
            # Not the conversation: it may be a shared support channel, and a campaign must reach the person
            # privately (their user id, or the conversation an operator set on the contact).
            workspace=a.workspace,
            updated_at=now,
        )
        if (zone := zone_hint(event.timezone)) is not None:  # the platform's hint; an operator-set zone wins
            await contacts_q.adopt_timezone(conn, a.profile, a.channel, a.user_id, zone)
        hint = last_message_hint(event.metadata, now)  # the help desk may have seen a later customer message
        if hint is not None and 0 < len(event.address.user_id) <= contacts_seen.USER_WIDTH:
            seen = [(event.address.user_id, hint)]
            await contacts_seen.contacts_seen(conn, event.address.profile, event.address.channel, seen)
        await ob.enqueue(conn, messages_for(survey, actions, settings, now), now)
        return Outcome("ok", survey, tuple(actions), Transition.of(None, survey))

    async def _suppressed(self, conn: Any, survey: Survey, settings: ProfileSettings) -> Outcome:
        """A close for someone on the suppression list: the skipped survey is stored without their id, name or
        conversation, and their contact record is not created again."""
        stored = anonymised(survey, anonymous_marker())
        stored = replace(stored, id=await q.insert_survey(conn, stored, settings.policy))
        return Outcome("ok", stored, (), Transition.of(None, stored))

    async def _score(self, conn: Any, event: ScoreGiven, settings: ProfileSettings, now: datetime) -> Outcome:
        if event.survey_id is None:
            survey = await survey_lookup.find_survey(conn, event.address)
        else:
            survey = await q.get_survey(conn, event.survey_id, lock=True)
            a = event.address
            if survey is not None and (survey.address.profile, survey.address.channel) != (a.profile, a.channel):
                survey = None
            if survey is not None and None not in (a.workspace, survey.address.workspace):
                survey = survey if survey.address.workspace == a.workspace else None  # another workspace's
        if survey is None:
            return Outcome("no_survey")
        actor = event.actor_id or event.address.user_id
        if actor and survey.address.user_id and actor != survey.address.user_id:
            return Outcome("not_yours", survey)
        if survey.score is not None:
            return Outcome("already_answered", survey)
        if survey.state is not State.ASKED:
            return Outcome("closed", survey)
        return await self._apply(conn, survey, event, settings, now)

    async def _apply(
        self, conn: Any, survey: Survey, event: object, settings: ProfileSettings, now: datetime
    ) -> Outcome:
        new, actions = step(survey, event, settings.policy, now)
        if new.comment is not None and survey.comment is None and settings.themes:
            # The comment's themes are stored with it, and rules and events read them off the completed survey.
            new = replace(new, themes=settings.themes.match(new.comment, new.locale))
            await stored_themes.add(conn, new)
        await self._save(conn, survey, new, actions, settings, now)
        return Outcome("ok", new, tuple(actions), Transition.of(survey, new))

    async def _save(
        self, conn: Any, old: Survey, new: Survey, actions: list[Action], settings: ProfileSettings, now: datetime
    ) -> None:
        new = stored_survey(new, settings.redaction)  # store_redacted: the original text never reaches the database
        if (new.state is State.OPTED_OUT and old.state is not State.OPTED_OUT) or opts_out(actions):
            await reachability.touch_contact(conn, new.address, opted_out_at=now)
        if new.state is State.ASKED and old.state is not State.ASKED:
            await reachability.touch_contact(conn, new.address, last_surveyed_at=now)
        routed = route_step(old, new, actions, settings, now)  # the profile's routing rules, when scored / completed
        new, actions = routed.survey, routed.actions
        messages = messages_for(new, actions, await self._live(conn, routed.settings, actions), now)
        await save_step(conn, old, new, settings.policy, messages, now)
        if routed.deadlines is not None and new.id is not None:
            await sla_q.start(conn, new.id, settings.name, routed.deadlines)

    async def _live(self, conn: Any, settings: ProfileSettings, actions: list[Action]) -> ProfileSettings:
        """Leave out subscriptions whose endpoint answered 410 Gone."""
        if not settings.subscriptions or not any(isinstance(a, Emit) for a in actions):
            return settings
        gone = await reachability.gone_endpoints(conn, settings.name)
        if not gone:
            return settings
        return replace(settings, subscriptions=tuple(s for s in settings.subscriptions if s.url not in gone))

    async def tick(self, limit: int = 200) -> int:
        """Step every survey whose deadline passed (send delay, expiry, comment window); returns how many."""
        now = self.clock()
        moved: list[Transition | None] = []
        async with self.store.transaction() as conn:
            due = await q.due_surveys(conn, now, limit, list(self.profiles))
            contacts = await contacts_when_due(conn, due_to_ask(due, now), self.suppression, now)
            asked: set[tuple[str, str, str]] = set()  # people asked in this pass, whose contact read is stale
            for survey in due:
                settings = self.profiles.get(survey.address.profile)
                if settings is None:
                    continue
                person = (survey.address.profile, survey.address.channel, survey.address.user_id)
                contact = contacts.get(survey.id or 0)
                if contact is not None and person in asked:
                    contact = replace(contact, last_surveyed_at=now)
                skipped = None if contact is None else skip_when_due(survey, contact, settings.policy, now)
                if skipped is not None and skipped.skip_reason is SkipReason.SUPPRESSED:
                    moved.append(Transition.of(survey, await erase_pending(conn, skipped, now)))
                    continue
                new, actions = (skipped, []) if skipped is not None else step(survey, Tick(), settings.policy, now)
                await self._save(conn, survey, new, actions, settings, now)
                if new.state is State.ASKED and survey.state is State.PENDING:
                    asked.add(person)
                moved.append(Transition.of(survey, new))
            escalated = await escalate(conn, self.profiles, now, limit)  # follow-ups past their SLA
        for transition in moved:
            if transition is not None:
                transition.log()
        log_escalations(escalated)
        return len(due) + len(escalated)

    async def contacts_seen(self, profile: str, channel: str, seen: Sequence[tuple[str, datetime]]) -> None:
        """Record customers' messages as (user_id, when): one upsert for the batch; a contact's last inbound time
        never moves backwards, and a time ahead of our clock counts as now. Channels with a messaging window call
        it for every customer message, survey or not."""
        now = self.clock()
        if seen:
            await self.store.run_in_transaction(
                lambda conn: contacts_seen.contacts_seen(conn, profile, channel, seen, now)
            )

    async def last_inbound(self, profile: str, channel: str, user_id: str) -> datetime | None:
        """The customer's last message we know of (a channel's webhook, or a close's hint), or None."""
        async with self.store.read() as conn:
            return await contacts_seen.last_inbound(conn, profile, channel, user_id)

    async def question_status(self, profile: str, channel: str, ref: str, status: str, at: datetime) -> bool:
        """Record a delivery status (sent, delivered, read, failed) of the question the channel sent as `ref`;
        False when no survey of this profile and channel asked it so, or the status would move backwards. The ref is
        stored once the send returned: a receipt quicker than that finds nothing, and the next one counts."""
        new = QuestionStatus(status)  # ValueError for anything else
        return await self.store.run_in_transaction(lambda conn: qs.advance_by_ref(conn, profile, channel, ref, new, at))

    async def question_failed(self, profile: str, channel: str, ref: str, at: datetime, why: SkipReason) -> bool:
        """The platform reported after the fact that the question `ref` failed (a WhatsApp `failed` status): the
        status becomes failed and, while the question is unanswered, its survey ends skipped for `why`:
        outside_window (131047: the customer's window had closed) or unreachable (131026: not a WhatsApp number, an
        old app, or they blocked us; the contact is marked unreachable as a refusal at send time marks it). An
        answered question's report is stale and changes nothing else. True when the survey was skipped."""
        if why not in (SkipReason.OUTSIDE_WINDOW, SkipReason.UNREACHABLE):
            raise ValueError(f"a failed question skips its survey as outside_window or unreachable, not {why}")
        now = self.clock()

        async def work(conn: Any) -> Transition | None:
            await qs.advance_by_ref(conn, profile, channel, ref, QuestionStatus.FAILED, at)
            survey_id = await qs.survey_by_ref(conn, profile, channel, ref)
            survey = None if survey_id is None else await q.get_survey(conn, survey_id, lock=True)
            if survey is None or survey.state not in (State.PENDING, State.ASKED):
                return None
            if why is SkipReason.UNREACHABLE:
                await reachability.touch_contact(conn, survey.address, unreachable_at=now)
                await q.skip_unreachable(conn, survey.id, now)
            elif not await qs.skip_outside_window(conn, survey.id, now):
                return None
            return Transition.of(survey, replace(survey, state=State.SKIPPED, skip_reason=why))

        skipped = await self.store.run_in_transaction(work)
        if skipped is not None:
            skipped.log()
        return skipped is not None
