"""duration rank indexes: the completed detractors' stored claim and resolution durations indexed with every column
the SLA report filters and groups them by, so ranking the rows of one duration range is read from the index alone

They replace the single-column partial indexes of migration 0018 (ix_survey_claim_seconds,
ix_survey_resolve_seconds), which made every row of a range a lookup in the table.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

# Written out the same way in core/store/tables.py (DURATION_INDEXES) and in the queries that use them.
READ = ("asked_at", "profile", "channel", "agent", "team", "locale", "workspace", "kind", "campaign", "variant",
        "claimed_by")  # fmt: skip
SECONDS = ("claim_seconds", "resolve_seconds")


def _where(column: str) -> str:
    return f"{column} IS NOT NULL AND category = 'detractor' AND state = 'completed'"


def upgrade() -> None:
    for column in SECONDS:
        op.drop_index(f"ix_survey_{column}", table_name="surveys")
        where = sa.text(_where(column))
        name = f"ix_survey_{column.removesuffix('_seconds')}_ranked"
        op.create_index(name, "surveys", [column, *READ], postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    for column in SECONDS:
        op.drop_index(f"ix_survey_{column.removesuffix('_seconds')}_ranked", table_name="surveys")
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(f"ix_survey_{column}", "surveys", [column], postgresql_where=where, sqlite_where=where)
