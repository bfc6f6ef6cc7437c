"""The audit log: who claimed or resolved a follow-up (and which follow-ups were escalated), erased or exported a
person, used a token to change something, and when the configuration was loaded. An entry holds who, what, when,
the profile and a target (a survey, a route, a keyed hash of a person) — never message text and never a person's
address; `details` takes only short plain values, so a message cannot slip in by accident."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.store import Store
from core.store import audit_log as q

CLAIM, RESOLVE, ESCALATE, ERASE, EXPORT = "claim", "resolve", "escalate", "erase", "export"
TOKEN_USE, CONFIG_LOADED, CONFIG_RELOADED = "token_use", "config_loaded", "config_reloaded"
ACTIONS = (CLAIM, RESOLVE, ESCALATE, ERASE, EXPORT, TOKEN_USE, CONFIG_LOADED, CONFIG_RELOADED)
SYSTEM = "npsbot"  # the actor of what the service does by itself (an SLA escalation)
MAX_VALUE = 200  # a details string longer than this is cut: details are names, counts and routes, not text
MAX_ITEMS = 50
ACTOR, TARGET, PROFILE = 191, 191, 64  # the columns' widths


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
        return [_plain(v) for v in items[:MAX_ITEMS]]
    if isinstance(value, dict):
        return {str(k)[:64]: _plain(v) for k, v in list(value.items())[:MAX_ITEMS]}
    return str(value)[:MAX_VALUE]


def entry(
    *, actor: str, action: str, profile: str | None, target: str | None, at: datetime, details: dict | None = None
) -> dict[str, Any]:
    """One entry as stored; an unknown action is a programming error, refused here rather than logged vaguely."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; known: {', '.join(ACTIONS)}")
    return {
        "at": at,
        "actor": (actor or "unknown")[:ACTOR],
        "action": action,
        "profile": None if profile is None else profile[:PROFILE],
        "target": None if target is None else target[:TARGET],
        "details": _plain(details or {}),
    }


async def record(
    store: Store,
    *,
    actor: str,
    action: str,
    profile: str | None,
    target: str | None,
    at: datetime,
    details: dict | None = None,
) -> None:
    """Record one entry in a transaction of its own (group-committed with whatever else is being written)."""
    row = entry(actor=actor, action=action, profile=profile, target=target, at=at, details=details)
    await store.run_in_transaction(lambda conn: q.add(conn, row))


async def record_in(
    conn: Any,
    *,
    actor: str,
    action: str,
    profile: str | None,
    target: str | None,
    at: datetime,
    details: dict | None = None,
) -> None:
    """Record one entry in the caller's transaction, so it commits with the change it describes or not at all."""
    await q.add(conn, entry(actor=actor, action=action, profile=profile, target=target, at=at, details=details))


@dataclass(frozen=True, slots=True)
class AuditQuery:
    action: str | None = None
    profile: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    cursor: int | None = None  # the `next_cursor` of the previous page


async def entries(store: Store, query: AuditQuery) -> tuple[list[dict[str, Any]], int | None]:
    """A page of entries, newest first, and the cursor of the next page (None on the last one)."""
    async with store.read() as conn:
        rows = await q.entries(
            conn,
            action=query.action,
            profile=query.profile,
            since=query.since,
            until=query.until,
            before_id=query.cursor,
            limit=query.limit + 1,
        )
    page = rows[: query.limit]
    items = [{**r, "at": r["at"].isoformat()} for r in page]
    return items, (page[-1]["id"] if len(rows) > query.limit else None)


def survey_target(survey_id: int) -> str:
    return f"survey:{survey_id}"


async def record_followup(
    conn: Any, action: str, survey_id: int, who: str, at: datetime, *, profile: str | None, status: str, changed: bool
) -> None:
    """A claim or resolution, in the transaction that made it: `changed` is False when it found the follow-up
    already claimed (or resolved) and left it as it was."""
    owner = profile if profile is not None else await q.survey_profile(conn, survey_id)
    details = {"status": status, "changed": changed}
    await record_in(
        conn, actor=who, action=action, profile=owner, target=survey_target(survey_id), at=at, details=details
    )
