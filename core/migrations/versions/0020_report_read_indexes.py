"""report read indexes: partial indexes over only the raw rows the reports still read, so the dashboard's latest
comments, the surveys skipped after being asked (the sampling figure) and the never-asked ones that were not skipped
(the filter options) cost what those rows number, not the table

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# Written out the same way in core/store/tables.py (REPORT_INDEXES) and in the queries that use them.
INDEXES = (
    ("ix_survey_commented", ["completed_at", "id"], "comment IS NOT NULL"),
    ("ix_survey_asked_skipped", ["asked_at"], "state = 'skipped' AND asked_at IS NOT NULL"),
    ("ix_survey_unasked", ["profile"], "asked_at IS NULL AND state <> 'skipped'"),
)


def upgrade() -> None:
    for name, columns, where in INDEXES:
        op.create_index(
            name, "surveys", columns, unique=False, postgresql_where=sa.text(where), sqlite_where=sa.text(where)
        )


def downgrade() -> None:
    for name, _, _ in reversed(INDEXES):
        op.drop_index(name, table_name="surveys")
