"""period read indexes: the latest comments' and the open follow-ups' newest-first indexes hold the columns a
period and a profile filter them by (asked_at, profile), so with a period the dashboard walks them newest first and
tests each entry in the index itself, instead of reading every survey asked in the period and sorting them (SQLite;
at 10M a 90-day period's comments 9.6 s of CPU) or every comment completed after the period's end through the table
(PostgreSQL; 8 s for a past period).

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

COMMENTED = "comment IS NOT NULL"
FOLLOWUP_OPEN = "category = 'detractor' AND state = 'completed' AND (claimed_at IS NULL OR resolved_at IS NULL)"
# Written out the same way in core/store/tables.py.
COMMENTED_BEFORE = ["completed_at", "id"]
COMMENTED_NOW = ["completed_at", "id", "asked_at", "profile"]
FOLLOWUP_LATEST = ("ix_survey_followup_latest", ["id", "asked_at", "profile"], FOLLOWUP_OPEN)


def _create(name: str, columns: list[str], where: str) -> None:
    # if_not_exists: a kept bench database may hold them already, built ahead of its next migration
    where_ = {"postgresql_where": sa.text(where), "sqlite_where": sa.text(where)}
    op.create_index(name, "surveys", columns, unique=False, if_not_exists=True, **where_)


def upgrade() -> None:
    op.drop_index("ix_survey_commented", table_name="surveys")
    _create("ix_survey_commented", COMMENTED_NOW, COMMENTED)
    _create(*FOLLOWUP_LATEST)


def downgrade() -> None:
    op.drop_index(FOLLOWUP_LATEST[0], table_name="surveys")
    op.drop_index("ix_survey_commented", table_name="surveys")
    _create("ix_survey_commented", COMMENTED_BEFORE, COMMENTED)
