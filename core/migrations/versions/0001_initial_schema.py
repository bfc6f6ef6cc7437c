"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-24 01:37:14.684681
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('profile', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('locale', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True),
    sa.Column('opted_out_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('unreachable_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('last_surveyed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('profile', 'channel', 'user_id', name='uq_contact')
    )
    op.create_table('inbound_keys',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('profile', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('survey_id', sa.BigInteger(), nullable=True),
    sa.Column('ordering_key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
    sa.Column('target', sa.JSON(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('lease_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('leased_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('ref', sqlmodel.sql.sqltypes.AutoString(length=191), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_order', ['ordering_key', 'id'], unique=False)
        batch_op.create_index('ix_outbox_ready', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_survey_id'), ['survey_id'], unique=False)

    op.create_table('surveys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('profile', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('conversation_id', sqlmodel.sql.sqltypes.AutoString(length=191), nullable=False),
    sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('thread', sqlmodel.sql.sqltypes.AutoString(length=191), nullable=True),
    sa.Column('case_id', sqlmodel.sql.sqltypes.AutoString(length=191), nullable=False),
    sa.Column('case_key', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
    sa.Column('agent', sqlmodel.sql.sqltypes.AutoString(length=191), nullable=True),
    sa.Column('team', sqlmodel.sql.sqltypes.AutoString(length=191), nullable=True),
    sa.Column('locale', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('customer_name', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('skip_reason', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('reasks', sa.Integer(), nullable=False),
    sa.Column('unparsed', sa.JSON(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.Column('question_ref', sqlmodel.sql.sqltypes.AutoString(length=191), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('due_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('asked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('scored_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('completed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('next_check_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=191), nullable=True),
    sa.Column('claimed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('resolved_by', sqlmodel.sql.sqltypes.AutoString(length=191), nullable=True),
    sa.Column('resolved_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_key')
    )
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.create_index('ix_survey_created', ['created_at'], unique=False)
        batch_op.create_index('ix_survey_due', ['next_check_at'], unique=False)
        batch_op.create_index('ix_survey_report', ['profile', 'scored_at'], unique=False)
        batch_op.create_index('ix_survey_route', ['profile', 'channel', 'conversation_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_surveys_state'), ['state'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_surveys_state'))
        batch_op.drop_index('ix_survey_route')
        batch_op.drop_index('ix_survey_report')
        batch_op.drop_index('ix_survey_due')
        batch_op.drop_index('ix_survey_created')

    op.drop_table('surveys')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_survey_id'))
        batch_op.drop_index('ix_outbox_ready')
        batch_op.drop_index('ix_outbox_order')

    op.drop_table('outbox')
    op.drop_table('inbound_keys')
    op.drop_table('contacts')
