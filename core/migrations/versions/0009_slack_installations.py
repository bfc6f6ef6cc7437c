"""Slack installations per workspace, OAuth state, workspace per survey

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "installations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("profile", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("workspace", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("organization", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("installed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("secrets", sa.Text(), nullable=True),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("installed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("removed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("removed_reason", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "profile", "workspace", name="uq_installation"),
    )
    op.create_table(
        "install_states",
        sa.Column("state_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("profile", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("state_hash"),
    )
    with op.batch_alter_table("install_states") as batch_op:
        batch_op.create_index("ix_install_state_expiry", ["expires_at"], unique=False)
    # A nullable column without a default: PostgreSQL and SQLite add it without rewriting the table.
    with op.batch_alter_table("surveys") as batch_op:
        batch_op.add_column(sa.Column("workspace", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("surveys") as batch_op:
        batch_op.drop_column("workspace")
    with op.batch_alter_table("install_states") as batch_op:
        batch_op.drop_index("ix_install_state_expiry")
    op.drop_table("install_states")
    op.drop_table("installations")
