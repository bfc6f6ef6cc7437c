"""suppression list, erasure requests and the audit log

`suppressions` holds keyed hashes of the people erased (never their addresses); `audit_log` records claims,
resolutions, erasures, exports, token use and configuration loads; `privacy_keys` holds the hash key generated when
the configuration sets none. Surveys get an index on (channel, user_id, profile) so erasing or exporting one person
never scans the table.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TEXT = sqlmodel.sql.sqltypes.AutoString
WHEN = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "suppressions",
        sa.Column("hash", TEXT(length=64), nullable=False),
        sa.Column("profile", TEXT(length=64), nullable=False),
        sa.Column("channel", TEXT(length=32), nullable=False),
        sa.Column("created_at", WHEN(), nullable=False),
        sa.PrimaryKeyConstraint("hash"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", WHEN(), nullable=False),
        sa.Column("actor", TEXT(length=191), nullable=False),
        sa.Column("action", TEXT(length=32), nullable=False),
        sa.Column("profile", TEXT(length=64), nullable=True),
        sa.Column("target", TEXT(length=191), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.create_index("ix_audit_action", ["action", "id"], unique=False)
        batch_op.create_index("ix_audit_profile", ["profile", "id"], unique=False)
        batch_op.create_index("ix_audit_at", ["at"], unique=False)
    op.create_table(
        "privacy_keys",
        sa.Column("name", TEXT(length=32), nullable=False),
        sa.Column("secret", TEXT(length=128), nullable=False),
        sa.Column("created_at", WHEN(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("surveys") as batch_op:
        batch_op.create_index("ix_survey_person", ["channel", "user_id", "profile"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("surveys") as batch_op:
        batch_op.drop_index("ix_survey_person")
    op.drop_table("privacy_keys")
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.drop_index("ix_audit_at")
        batch_op.drop_index("ix_audit_profile")
        batch_op.drop_index("ix_audit_action")
    op.drop_table("audit_log")
    op.drop_table("suppressions")
