"""the survey programme: contact records and the kind of survey

contacts gain where a campaign reaches them (conversation_id, workspace), their IANA time zone, the operator's
attributes, consent, the operator's id for the person across channels, and when the record was created and last
changed. surveys gain their kind (transactional from a closed conversation, relational from a campaign; existing
rows are transactional), the campaign, the experiment's variant, the customer's time zone and the reminder's time.
Every new column is nullable or has a constant default, so neither table is rewritten on PostgreSQL.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _text(length: int) -> sa.types.TypeEngine:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch_op:
        batch_op.add_column(sa.Column("conversation_id", _text(191), nullable=True))
        batch_op.add_column(sa.Column("workspace", _text(64), nullable=True))
        batch_op.add_column(sa.Column("timezone", _text(64), nullable=True))
        batch_op.add_column(sa.Column("attributes", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch_op.add_column(sa.Column("consent", _text(16), nullable=True))
        batch_op.add_column(sa.Column("consent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("external_id", _text(191), nullable=True))
        batch_op.add_column(sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table("surveys") as batch_op:
        batch_op.add_column(sa.Column("kind", _text(16), nullable=False, server_default=sa.text("'transactional'")))
        batch_op.add_column(sa.Column("campaign", _text(64), nullable=True))
        batch_op.add_column(sa.Column("variant", _text(64), nullable=True))
        batch_op.add_column(sa.Column("timezone", _text(64), nullable=True))
        batch_op.add_column(sa.Column("reminded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("surveys") as batch_op:
        for column in ("reminded_at", "timezone", "variant", "campaign", "kind"):
            batch_op.drop_column(column)
    with op.batch_alter_table("contacts") as batch_op:
        for column in ("updated_at", "created_at", "external_id", "consent_at", "consent", "attributes", "timezone",
                       "workspace", "conversation_id"):  # fmt: skip
            batch_op.drop_column(column)
