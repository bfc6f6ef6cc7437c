"""rollup change logs: report_days_log, report_skips_log and report_theme_days_log, append-only changes to the
report rollups that the worker folds into them

Each has its rollup's key and counter columns plus an id, and no unique key: a write appends its changes without
waiting on the rollup rows other writers change. Nothing to copy: the rollups are whole at this revision.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0019"
# 0018 (the follow-up durations rollup) comes before this one; until that revision exists, 0017 does.
down_revision = "0018" if any(Path(__file__).parent.glob("0018_*.py")) else "0017"
branch_labels = None
depends_on = None

DIMENSIONS = (("profile", 64), ("channel", 32), ("agent", 191), ("team", 191), ("locale", 16), ("workspace", 64),
              ("kind", 16), ("campaign", 64), ("variant", 64))  # fmt: skip
SCORES = tuple(f"s{n}" for n in range(11))
DAY_COUNTERS = ("asked", *SCORES, "commented", "c_promoter", "c_passive", "c_detractor",
                "q_sent", "q_reached", "q_failed", "q_reported", "fu_open", "fu_claimed", "fu_resolved")  # fmt: skip
# rollup table: (its key columns besides day and the dimensions, with their widths; its counters)
LOGS: dict[str, tuple[tuple[tuple[str, int], ...], tuple[str, ...]]] = {
    "report_days": ((), DAY_COUNTERS),
    "report_skips": ((("reason", 32),), ("surveys",)),
    "report_theme_days": ((("theme", 64),), SCORES),
}


def upgrade() -> None:
    for table, (extra, counters) in LOGS.items():
        op.create_table(
            f"{table}_log",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
            sa.Column("day", sa.Date(), nullable=False),
            *(sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=n), nullable=False) for name, n in DIMENSIONS),
            *(sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=n), nullable=False) for name, n in extra),
            *(sa.Column(name, sa.BigInteger(), nullable=False) for name in counters),
            sa.PrimaryKeyConstraint("id"),
        )


def downgrade() -> None:
    for table in reversed(LOGS):
        op.drop_table(f"{table}_log")
