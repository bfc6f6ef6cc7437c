"""comment themes per response: response_themes, one row per (survey, theme) with the report's dimensions copied

Existing comments get their themes from `npsbot themes rebuild` once a taxonomy is configured: the taxonomy lives
in the configuration file, which a migration does not read.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "response_themes",
        sa.Column("survey_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("theme", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("profile", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("agent", sqlmodel.sql.sqltypes.AutoString(length=191), nullable=True),
        sa.Column("team", sqlmodel.sql.sqltypes.AutoString(length=191), nullable=True),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("asked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["survey_id"], ["surveys.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("survey_id", "theme"),
    )
    with op.batch_alter_table("response_themes") as batch_op:
        batch_op.create_index("ix_response_theme_report", ["profile", "asked_at"], unique=False)
        batch_op.create_index("ix_response_theme_name", ["theme", "survey_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("response_themes") as batch_op:
        batch_op.drop_index("ix_response_theme_name")
        batch_op.drop_index("ix_response_theme_report")
    op.drop_table("response_themes")
