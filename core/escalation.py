"""Escalating follow-ups that missed their SLA: the worker's pass over passed deadlines (core.sla decides,
core.store.sla stores). An escalation is a second alert, with Claim / Resolve, to the escalation targets, and a
`detractor.escalated` event to the subscribers that want it; both are queued in the transaction that marks the
deadline escalated, and only by the one caller whose conditional update marked it, so two workers, a restart or a
replayed pass never escalate one deadline twice."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from core import audit
from core.outbound import alert_messages, event_messages
from core.profiles import ProfileSettings
from core.sla import Kind, SlaState, compact, step
from core.store import Store, reachability
from core.store import outbox as ob
from core.store import sla as sla_q
from core.store import surveys as q
from core.store import themes as stored_themes
from core.store.outbox import NewMessage
from core.survey import Survey
from core.types import Emit

log = logging.getLogger(__name__)
EVENT = "detractor.escalated"


@dataclass(frozen=True, slots=True)
class Escalated:
    survey_id: int
    profile: str
    kind: Kind


def escalation_data(state: SlaState, kind: Kind) -> dict[str, Any]:
    """What `detractor.escalated` carries besides the survey: which deadline, when it was, where the ping went."""
    due = state.due(kind)
    return {
        "escalation": {
            "kind": str(kind),
            "due_at": None if due is None else due.isoformat(),
            "within_seconds": state.within(kind).total_seconds(),
            "targets": [{"channel": t.channel, "destination": t.destination} for t in state.escalate_to],
        }
    }


def escalation_messages(
    survey: Survey, state: SlaState, kind: Kind, settings: ProfileSettings, now: datetime
) -> list[NewMessage]:
    score = survey.score if survey.score is not None else 0
    out = alert_messages(
        survey, score, survey.comment, settings, state.escalate_to, escalation=(str(kind), compact(state.within(kind)))
    )
    return out + event_messages(survey, Emit(EVENT), settings, now, escalation_data(state, kind))


async def escalate_due(
    store: Store, profiles: Mapping[str, ProfileSettings], now: datetime, limit: int = 200
) -> list[Escalated]:
    """Step every SLA whose next deadline has passed, in a transaction of its own; returns the escalations queued."""
    async with store.transaction() as conn:
        done = await escalate(conn, profiles, now, limit)
    log_escalations(done)
    return done


async def escalate(
    conn: Any, profiles: Mapping[str, ProfileSettings], now: datetime, limit: int = 200
) -> list[Escalated]:
    """The same in the caller's transaction (the worker's pass over due surveys): log them once it commits."""
    done: list[Escalated] = []
    if not await sla_q.any_due(conn, now, list(profiles)):  # the idle pass: one indexed lookup, no row locked
        return done
    for state in await sla_q.due(conn, now, limit, list(profiles)):
        kinds, next_check = step(state, now)
        if not await sla_q.advance(conn, state, kinds, now, next_check) or not kinds:
            continue
        survey = await q.get_survey(conn, state.survey_id)
        if survey is None:
            continue
        themes = (await stored_themes.of(conn, [state.survey_id])).get(state.survey_id, ())
        survey = replace(survey, themes=themes)
        settings = await _live(conn, profiles[state.profile])
        messages = [m for kind in kinds for m in escalation_messages(survey, state, kind, settings, now)]
        await ob.enqueue(conn, messages, now)
        for kind in kinds:
            details = {"deadline": str(kind), "targets": [t.channel for t in state.escalate_to]}
            target = audit.survey_target(state.survey_id)
            await audit.record_in(
                conn, actor=audit.SYSTEM, action=audit.ESCALATE, profile=state.profile, target=target, at=now,
                details=details,
            )  # fmt: skip
        done += [Escalated(state.survey_id, state.profile, kind) for kind in kinds]
    return done


def log_escalations(done: list[Escalated]) -> None:
    for e in done:
        done_word = "claimed" if e.kind is Kind.CLAIM else "resolved"
        log.info("follow-up %s (%s): escalated, not %s in time", e.survey_id, e.profile, done_word)


async def _live(conn: Any, settings: ProfileSettings) -> ProfileSettings:
    """Leave out subscriptions whose endpoint answered 410 Gone."""
    if not settings.subscriptions:
        return settings
    gone = await reachability.gone_endpoints(conn, settings.name)
    return replace(settings, subscriptions=tuple(s for s in settings.subscriptions if s.url not in gone))
