"""outbox head index: the index of each conversation's waiting messages (ordering_key, id) states its rows as those
not yet delivered (status NOT IN ('sent', 'dead')), the same rows as before written another way, and the claim's
head test states it the same way. The id index of waiting messages (ix_outbox_waiting) no longer matches the head
test, so PostgreSQL cannot answer it by walking that index from the oldest waiting row: with statistics taken while
no row waited it did, as both partial indexes looked empty (a claim of 200 out of 10,000: some 200k buffers).

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

NAME, COLUMNS = "ix_outbox_waiting_order", ["ordering_key", "id"]
UNDELIVERED = "status NOT IN ('sent', 'dead')"  # written out the same way in core/store/tables.py and the claim
WAITING = "status IN ('pending', 'sending')"  # migration 0017's predicate


def _recreate(predicate: str) -> None:
    op.drop_index(NAME, table_name="outbox")
    where = sa.text(predicate)
    op.create_index(NAME, "outbox", COLUMNS, unique=False, postgresql_where=where, sqlite_where=where)


def upgrade() -> None:
    _recreate(UNDELIVERED)


def downgrade() -> None:
    _recreate(WAITING)
