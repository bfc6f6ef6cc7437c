"""outbox claim: partial indexes over the messages still to send, so claiming never reads a delivered row however
many of them the outbox holds

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

WAITING = "status IN ('pending', 'sending')"  # written out the same way in core/store/tables.py and the claim
INDEXES = (
    ("ix_outbox_waiting", ["id"]),  # the claim walks it oldest first
    ("ix_outbox_waiting_order", ["ordering_key", "id"]),  # the head of each conversation's queue
)


def upgrade() -> None:
    for name, columns in INDEXES:
        where = sa.text(WAITING)
        op.create_index(name, "outbox", columns, unique=False, postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    for name, _ in reversed(INDEXES):
        op.drop_index(name, table_name="outbox")
