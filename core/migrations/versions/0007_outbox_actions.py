"""the outbox stores core's outbound action: kind is the action's tag, payload its fields

Rows not yet sent (pending, sending, and dead letters, which an operator may queue again) are rewritten:
alert_detractor becomes detractor_alert; event becomes event_notice, its subscriber URL moving to the target's
conversation_id and the time it was queued into the payload's timestamp. Every payload keeps exactly its action's
fields. Sent rows are history and stay as they were.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OUTBOX = sa.table(
    "outbox",
    sa.column("id", sa.BigInteger()),
    sa.column("profile", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("survey_id", sa.BigInteger()),
    sa.column("target", sa.JSON()),
    sa.column("payload", sa.JSON()),
    sa.column("status", sa.String()),
    sa.column("created_at", sqlmodel.sql.sqltypes.UTCDateTime()),
)
UNSENT = ("pending", "sending", "dead")

# Each action's fields as this revision stores them, with what a row written by an older version may lack.
FIELDS: dict[str, dict[str, Any]] = {
    "ask_score": {"text": "", "low_label": "", "high_label": ""},
    "ask_comment": {"text": "", "category": "", "add_comment_label": ""},
    "say": {"text": "", "purpose": ""},
    "mark_answered": {"score": 0, "text": ""},
    "detractor_alert": {
        "survey_id": None, "score": 0, "comment": None, "customer": "", "agent": None, "team": None, "profile": "",
        "channel": "", "conversation_id": "", "link": None, "text": "", "claim_label": "Claim",
        "resolve_label": "Resolved",
    },
    "event_notice": {"type": "", "data": {}, "timestamp": ""},
}  # fmt: skip
RENAMED = {"alert_detractor": "detractor_alert", "event": "event_notice"}


def _fields(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {name: payload.get(name, default) for name, default in FIELDS[kind].items()}


def _upgraded(row: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    kind = RENAMED.get(row.kind, row.kind)
    target, payload = dict(row.target or {}), dict(row.payload or {})
    if row.kind == "alert_detractor":
        payload = {"survey_id": row.survey_id, "profile": row.profile, **payload}
    if row.kind == "event":
        target = {"conversation_id": target.get("url", "")}
        payload["timestamp"] = row.created_at.isoformat()
    return kind, target, _fields(kind, payload)


def _downgraded(row: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    target, payload = dict(row.target or {}), dict(row.payload or {})
    if row.kind == "event_notice":
        return (
            "event",
            {"url": target.get("conversation_id", "")},
            {"type": payload.get("type"), "data": payload.get("data")},
        )
    return "alert_detractor", target, payload


def _rewrite(kinds: list[str], change: Any) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(OUTBOX).where(OUTBOX.c.status.in_(UNSENT), OUTBOX.c.kind.in_(kinds))).all()
    updates = []
    for row in rows:
        kind, target, payload = change(row)
        if (kind, target, payload) != (row.kind, row.target, row.payload):
            updates.append({"row_id": row.id, "new_kind": kind, "new_target": target, "new_payload": payload})
    if updates:
        conn.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.id == sa.bindparam("row_id"))
            .values(
                kind=sa.bindparam("new_kind"),
                target=sa.bindparam("new_target", type_=sa.JSON()),
                payload=sa.bindparam("new_payload", type_=sa.JSON()),
            ),
            updates,
        )


def upgrade() -> None:
    _rewrite(["ask_score", "ask_comment", "say", "mark_answered", *RENAMED], _upgraded)


def downgrade() -> None:
    _rewrite(list(RENAMED.values()), _downgraded)
