"""Closing the loop on detractors: who claimed the follow-up, who resolved it, and when. The rules live here (only a
completed detractor has a follow-up, the first claim wins, resolving also claims); the SQL is core.store.followups'."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core import audit
from core.reports.planner import indexed
from core.reports.summary import Filters
from core.routing import DEFAULT_PRIORITY
from core.sla import deadline_status
from core.store import Store
from core.store import followups as q

MAX_SURVEY_ID = 2**63 - 1
STATUSES = q.STATUSES  # open → claimed → resolved


def status_of(claimed_at: datetime | None, resolved_at: datetime | None) -> str:
    if resolved_at is not None:
        return "resolved"
    if claimed_at is not None:
        return "claimed"
    return "open"


@dataclass(frozen=True, slots=True)
class FollowUp:
    survey_id: int
    score: int | None
    claimed_by: str | None
    claimed_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None

    @property
    def status(self) -> str:
        return status_of(self.claimed_at, self.resolved_at)


class NotADetractor(LookupError):
    """Only completed detractor surveys have a follow-up."""


async def get(store: Store, survey_id: int, *, profile: str | None = None) -> FollowUp:
    async with store.read() as conn:
        return await _get(conn, survey_id, profile=profile)


async def claim(store: Store, survey_id: int, who: str, now: datetime, *, profile: str | None = None) -> FollowUp:
    """First claim wins; claiming again (or after resolution) returns the recorded state unchanged.

    `profile` is the profile whose bot or token received the action: a survey of any other profile is refused as
    if it did not exist (an id from button data is client input). None only for callers that checked scope."""
    async with store.transaction() as conn:
        before = await _get(conn, survey_id, lock=True, profile=profile)
        await q.claim_if_open(conn, survey_id, who, now)
        after = await _get(conn, survey_id)
        await audit.record_followup(
            conn, audit.CLAIM, survey_id, who, now, profile=profile, status=after.status, changed=after != before
        )
        return after


async def resolve(store: Store, survey_id: int, who: str, now: datetime, *, profile: str | None = None) -> FollowUp:
    """Resolving also claims an unclaimed follow-up, so the report always knows who handled it."""
    async with store.transaction() as conn:
        before = await _get(conn, survey_id, lock=True, profile=profile)
        await q.claim_if_unclaimed(conn, survey_id, who, now)
        await q.resolve_if_unresolved(conn, survey_id, who, now)
        after = await _get(conn, survey_id)
        await audit.record_followup(
            conn, audit.RESOLVE, survey_id, who, now, profile=profile, status=after.status, changed=after != before
        )
        return after


async def _get(conn, survey_id: int, *, lock: bool = False, profile: str | None = None) -> FollowUp:
    if not 0 < survey_id <= MAX_SURVEY_ID:  # a 64-bit column: a larger id from client input names nothing
        raise NotADetractor(survey_id)
    row = await q.state(conn, survey_id, profile=profile, lock=lock)
    if row is None or row.category != "detractor":
        raise NotADetractor(survey_id)
    return FollowUp(row.survey_id, row.score, row.claimed_by, row.claimed_at, row.resolved_by, row.resolved_at)


async def list_followups(
    store: Store,
    profiles: tuple[str, ...] | None,
    status: str | None = None,
    limit: int = 100,
    filters: Filters | None = None,
    now: datetime | None = None,
) -> list[dict[str, object]]:
    """Completed detractor surveys with their follow-up state, newest first; `filters` as in the report. Each
    carries its routing priority and tags, and its SLA as of `now` (None: no SLA)."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"status {status!r}: choose from {', '.join(STATUSES)}")
    async with store.read() as conn:
        # SQLite is told the index: it read every follow-up asked in a period through asked_at and sorted them
        # (3.9 s of CPU for 90 days at 10M)
        rows_of = indexed(q.S, q.LATEST_INDEX) if status in q.OPEN_STATUSES else q.S
        rows = await q.completed_detractors(conn, profiles, status, limit, filters, rows_of)
    now = now or datetime.now(UTC)
    return [
        {
            key: (value.isoformat() if hasattr(value, "isoformat") else value)
            for key, value in row.items()
            if key not in q.SLA_COLUMNS
        }
        | {"status": status_of(row["claimed_at"], row["resolved_at"])}
        | routed(row, now)
        for row in rows
    ]


def routed(row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A follow-up's routing priority and tags, and its SLA: per deadline when it is due, whether it is pending,
    met or breached as of `now`, and whether it was escalated."""
    sla = None
    if row["claim_due_at"] is not None or row["resolve_due_at"] is not None:
        sla = {
            kind: {
                "due_at": due.isoformat(),
                "status": deadline_status(due, row[f"{done}_at"], now),
                "escalated": row[f"{kind}_escalated_at"] is not None,
            }
            if (due := row[f"{kind}_due_at"]) is not None
            else None
            for kind, done in (("claim", "claimed"), ("resolve", "resolved"))
        }
    return {"priority": row["priority"] or DEFAULT_PRIORITY, "tags": list(row["tags"] or ()), "sla": sla}
