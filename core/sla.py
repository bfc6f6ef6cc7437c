"""Follow-up SLAs: how long a detractor may wait to be claimed and to be resolved, and which escalations are due.
Pure: the deadlines are stored (core.store.sla) and stepped by the worker like survey expiries, never by timers.

A deadline is met when the follow-up is claimed (resolved) by then. The worker looks at a deadline once it has
passed: if the follow-up is still unclaimed (unresolved), that deadline is escalated, once; either way it is not
looked at again. A claim that comes after the deadline but before the worker's look escalates nothing (nobody needs
a reminder any more) and still counts as a breach in the report.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.profiles import AlertTarget


class Kind(enum.StrEnum):
    CLAIM = "claim"
    RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class Deadlines:
    """A detractor's SLA, fixed when its alert goes out (the survey completes)."""

    started_at: datetime
    claim_due_at: datetime | None
    resolve_due_at: datetime | None
    escalate_to: tuple[AlertTarget, ...]

    @classmethod
    def starting(
        cls,
        at: datetime,
        claim_within: timedelta | None,
        resolve_within: timedelta | None,
        escalate_to: tuple[AlertTarget, ...],
    ) -> Deadlines | None:
        if claim_within is None and resolve_within is None:
            return None
        claim = None if claim_within is None else at + claim_within
        resolve = None if resolve_within is None else at + resolve_within
        return cls(at, claim, resolve, escalate_to)

    @property
    def first_check(self) -> datetime:
        return min(d for d in (self.claim_due_at, self.resolve_due_at) if d is not None)


@dataclass(frozen=True, slots=True)
class SlaState:
    """A stored SLA with the follow-up's state, as the worker reads it."""

    survey_id: int
    profile: str
    started_at: datetime
    claim_due_at: datetime | None
    resolve_due_at: datetime | None
    claim_escalated_at: datetime | None
    resolve_escalated_at: datetime | None
    next_check_at: datetime | None
    escalate_to: tuple[AlertTarget, ...]
    claimed_at: datetime | None
    resolved_at: datetime | None

    def due(self, kind: Kind) -> datetime | None:
        return self.claim_due_at if kind is Kind.CLAIM else self.resolve_due_at

    def within(self, kind: Kind) -> timedelta:
        due = self.due(kind)
        return timedelta(0) if due is None else due - self.started_at


def _open(state: SlaState, kind: Kind) -> bool:
    """The deadline is still to be watched: set, not escalated, and what it asks for not done yet."""
    if kind is Kind.CLAIM:
        return (
            state.claim_due_at is not None
            and state.claim_escalated_at is None
            and state.claimed_at is None
            and state.resolved_at is None  # resolving claims too
        )
    return state.resolve_due_at is not None and state.resolve_escalated_at is None and state.resolved_at is None


def step(state: SlaState, now: datetime) -> tuple[list[Kind], datetime | None]:
    """The deadlines to escalate now, and when to look again (None: never)."""
    escalate: list[Kind] = []
    later: list[datetime] = []
    for kind in Kind:
        if not _open(state, kind):
            continue
        due = state.due(kind)
        assert due is not None
        if due <= now:
            escalate.append(kind)
        else:
            later.append(due)
    return escalate, min(later, default=None)


def deadline_status(due: datetime, done_at: datetime | None, now: datetime) -> str:
    """met (done by the deadline), breached (done after it, or not done and it passed) or pending."""
    if done_at is not None:
        return "met" if done_at <= due else "breached"
    return "breached" if now > due else "pending"


def compact(span: timedelta) -> str:
    """A duration as an operator wrote it in the config: 30m, 2h, 1d 4h, 90s."""
    seconds = int(span.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts) or "0s"
