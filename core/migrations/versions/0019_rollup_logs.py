"""rollup change logs: `<rollup>_log` for each report rollup table, append-only changes to the rollups that the
worker folds into them

Each has its rollup's key and counter columns plus an id, and no unique key: a write appends its changes without
waiting on the rollup rows other writers change. The columns are copied from the rollup tables as they stand at this
revision (report_followups comes with 0018). Nothing to copy: the rollups are whole at this revision.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

ROLLUPS = ("report_days", "report_skips", "report_theme_days", "report_followups")


def _present(suffix: str = "") -> list[str]:
    """The rollup tables whose table `<name><suffix>` exists."""
    inspector = sa.inspect(op.get_bind())
    return [t for t in ROLLUPS if inspector.has_table(f"{t}{suffix}")]


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table in _present():
        columns = [c for c in inspector.get_columns(table) if c["name"] != "id"]
        op.create_table(
            f"{table}_log",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            *(sa.Column(c["name"], c["type"], nullable=False) for c in columns),
            sa.PrimaryKeyConstraint("id"),
        )


def downgrade() -> None:
    for table in reversed(_present("_log")):
        op.drop_table(f"{table}_log")
