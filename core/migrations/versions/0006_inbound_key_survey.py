"""inbound keys remember the survey a conversation close created, so a replayed Idempotency-Key answers with it

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column without a default: PostgreSQL and SQLite add it without rewriting the table.
    with op.batch_alter_table("inbound_keys") as batch_op:
        batch_op.add_column(sa.Column("survey_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_keys") as batch_op:
        batch_op.drop_column("survey_id")
