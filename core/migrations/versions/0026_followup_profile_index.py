"""follow-up profile index: on SQLite, the follow-ups still open (FOLLOWUP_OPEN's partial predicate) by profile and
asked_at, with claimed_at and resolved_at, so the SLA report's open breaches of one profile in a period read that
profile's open follow-ups of the period from the index alone and look each up in followup_slas before reading its
row. Without it SQLite read every survey of the profile in the period through ix_survey_report (at 10M, a 90-day
period of one profile: 1.8 s of CPU). PostgreSQL gets none: it already reads the open follow-ups' partial index.

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

FOLLOWUP_OPEN = "category = 'detractor' AND state = 'completed' AND (claimed_at IS NULL OR resolved_at IS NULL)"
# Written out the same way in core/store/tables.py.
NAME = "ix_survey_followup_profile"
COLUMNS = ["profile", "asked_at", "claimed_at", "resolved_at"]


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # if_not_exists: a kept bench database may hold it already, built ahead of its next migration
    op.create_index(NAME, "surveys", COLUMNS, unique=False, if_not_exists=True, sqlite_where=sa.text(FOLLOWUP_OPEN))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.drop_index(NAME, table_name="surveys")
