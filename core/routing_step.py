"""Where routing meets a survey's step: which point a step is (scored, completed), and what the rules' decision
changes in it. Pure; the service saves what it returns in the step's transaction.

- Scored: the rules read everything but the comment. The survey's priority and tags are set (shown at once in
  the API and the dashboard, and carried by `survey.responded`), and the events of the rules matched so far are
  emitted. No alert goes out: a detractor is alerted once, when it completes.
- Completed: the rules read the comment too (its themes and keywords). Priority and tags are replaced by this final
  decision; events of rules that matched already when scored are not emitted again; the detractor alert goes to the
  targets the rules chose; the SLA (claim_within / resolve_within) starts now.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from core.profiles import ProfileSettings
from core.routing import Decision, Facts, evaluate
from core.sla import Deadlines
from core.survey import State, Survey
from core.types import Action, AlertDetractor, Emit


@dataclass(frozen=True, slots=True)
class Routed:
    survey: Survey  # with the decision's priority, tags and matched rules
    actions: list[Action]  # with the rules' events
    settings: ProfileSettings  # alert targets as the rules chose them
    deadlines: Deadlines | None = None  # a detractor's SLA, to store
    decision: Decision | None = None


def point(old: Survey, new: Survey) -> str | None:
    """ "scored" or "completed" when this step is one, else None."""
    if new.score is None or new.state is old.state:
        return None
    if new.state is State.SCORED:
        return "scored"
    if new.state is State.COMPLETED:
        return "completed"
    return None


def route_step(old: Survey, new: Survey, actions: list[Action], settings: ProfileSettings, now: datetime) -> Routed:
    """The step as the profile's rules route it; unchanged for a profile without rules or a step that is
    neither point."""
    at = point(old, new) if settings.rules else None
    if at is None:
        return Routed(new, actions, settings)
    decision = evaluate(settings.rules, Facts.of(new, complete=at == "completed"), settings.alert_targets)
    emitted = {a.event_type for a in actions if isinstance(a, Emit)}
    if at == "completed":  # what the rules matched when scored was emitted then
        emitted |= {e for r in settings.rules if r.name in old.matched_rules for e in r.then.emit}
    extra: list[Action] = [Emit(e) for e in decision.emit if e not in emitted]
    routed = replace(new, priority=decision.priority, tags=decision.tags, matched_rules=decision.matched)
    deadlines = None
    if at == "completed" and any(isinstance(a, AlertDetractor) for a in actions):
        deadlines = Deadlines.starting(now, decision.claim_within, decision.resolve_within, decision.escalation_targets)
    return Routed(
        routed,
        [*actions, *extra],
        replace(settings, alert_targets=decision.alert_targets),
        deadlines,
        decision,
    )
