"""retention and redaction: the chore schedule (the retention pass's lease and progress) and the indexes the pass
reads by, so pruning by age never scans a table

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

WHEN = sqlmodel.sql.sqltypes.UTCDateTime
INDEXES = (
    ("inbound_keys", "ix_inbound_key_received", ["received_at"]),
    ("outbox", "ix_outbox_done", ["status", "created_at"]),
    ("inbound_journal", "ix_journal_dead", ["status", "received_at"]),
    ("contacts", "ix_contact_quiet", ["profile", "last_surveyed_at"]),
)


def upgrade() -> None:
    op.create_table(
        "chores",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("due_at", WHEN(), nullable=False),
        sa.Column("lease_until", WHEN(), nullable=True),
        sa.Column("leased_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("last_started_at", WHEN(), nullable=True),
        sa.Column("last_finished_at", WHEN(), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("last_counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    for table, name, columns in INDEXES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    for table, name, _ in reversed(INDEXES):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_index(name)
    op.drop_table("chores")
