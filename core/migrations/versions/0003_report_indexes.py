"""report indexes: date filters use asked_at, so index it (alone and per profile) instead of scored_at

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("surveys") as batch_op:
        batch_op.drop_index("ix_survey_report")
        batch_op.create_index("ix_survey_report", ["profile", "asked_at"], unique=False)
        batch_op.create_index("ix_survey_asked", ["asked_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("surveys") as batch_op:
        batch_op.drop_index("ix_survey_asked")
        batch_op.drop_index("ix_survey_report")
        batch_op.create_index("ix_survey_report", ["profile", "scored_at"], unique=False)
