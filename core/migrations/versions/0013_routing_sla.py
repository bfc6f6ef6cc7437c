"""routing rules, priorities, tags and SLA deadlines

surveys gain priority, tags and matched_rules (nullable, no default: added without rewriting the table; NULL reads
as never routed); followup_slas holds each detractor's claim / resolve deadlines and escalations, with the
worker's next look indexed. Detractor alerts gain priority, tags and escalation: rows not yet sent (pending,
sending, dead) are given those fields with their defaults, as 0007 keeps every payload to exactly its action's
fields; the downgrade takes them off again. Sent rows are history and stay as they were.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

OUTBOX = sa.table(
    "outbox",
    sa.column("id", sa.BigInteger()),
    sa.column("kind", sa.String()),
    sa.column("payload", sa.JSON()),
    sa.column("status", sa.String()),
)
UNSENT = ("pending", "sending", "dead")
ALERT_FIELDS: dict[str, Any] = {"priority": "normal", "tags": [], "escalation": None}


def _rewrite_alerts(change: Any) -> None:
    conn = op.get_bind()
    query = sa.select(OUTBOX.c.id, OUTBOX.c.payload).where(
        OUTBOX.c.status.in_(UNSENT), OUTBOX.c.kind == "detractor_alert"
    )
    updates = []
    for row in conn.execute(query).all():
        payload = change(dict(row.payload or {}))
        if payload != row.payload:
            updates.append({"row_id": row.id, "new_payload": payload})
    if updates:
        conn.execute(
            sa.update(OUTBOX)
            .where(OUTBOX.c.id == sa.bindparam("row_id"))
            .values(payload=sa.bindparam("new_payload", type_=sa.JSON())),
            updates,
        )


def upgrade() -> None:
    with op.batch_alter_table("surveys") as batch_op:
        batch_op.add_column(sa.Column("priority", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column("tags", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("matched_rules", sa.JSON(), nullable=True))
    op.create_table(
        "followup_slas",
        sa.Column("survey_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("profile", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("claim_due_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("resolve_due_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("claim_escalated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("resolve_escalated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("next_check_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("escalate_to", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["survey_id"], ["surveys.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("survey_id"),
    )
    with op.batch_alter_table("followup_slas") as batch_op:
        batch_op.create_index("ix_followup_sla_due", ["next_check_at"], unique=False)
    _rewrite_alerts(lambda payload: ALERT_FIELDS | payload)


def downgrade() -> None:
    _rewrite_alerts(lambda payload: {k: v for k, v in payload.items() if k not in ALERT_FIELDS})
    with op.batch_alter_table("followup_slas") as batch_op:
        batch_op.drop_index("ix_followup_sla_due")
    op.drop_table("followup_slas")
    with op.batch_alter_table("surveys") as batch_op:
        batch_op.drop_column("matched_rules")
        batch_op.drop_column("tags")
        batch_op.drop_column("priority")
