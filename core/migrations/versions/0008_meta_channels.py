"""WhatsApp, Messenger and Instagram: last inbound time per contact, question delivery status

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns without defaults: PostgreSQL and SQLite add them without rewriting the tables.
    with op.batch_alter_table("contacts") as batch_op:
        batch_op.add_column(sa.Column("last_inbound_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table("surveys") as batch_op:
        batch_op.add_column(sa.Column("question_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column("question_status_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_index("ix_survey_question_ref", ["question_ref"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("surveys") as batch_op:
        batch_op.drop_index("ix_survey_question_ref")
        batch_op.drop_column("question_status_at")
        batch_op.drop_column("question_status")
    with op.batch_alter_table("contacts") as batch_op:
        batch_op.drop_column("last_inbound_at")
