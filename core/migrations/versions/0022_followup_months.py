"""follow-up months: report_followup_months, report_followups' counts per calendar month (`day` the month's first
day) with its change log, so the SLA report reads a period's whole months from a thirtieth of the rows

Filled from report_followups and its change log's rows not folded yet, summed by month: the same counts, without
reading a survey.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

TABLE = "report_followup_months"
DIMENSIONS = (("profile", 64), ("channel", 32), ("agent", 191), ("team", 191), ("locale", 16), ("workspace", 64),
              ("kind", 16), ("campaign", 64), ("variant", 64))  # fmt: skip
KEY = ("day", *(name for name, _ in DIMENSIONS), "claimed_by")
BUCKETS = 46
COUNTERS = ("detractors", "with_sla", "claimed", "resolved", "claim_late", "resolve_late", "claim_escalated",
            "resolve_escalated",
            *(f"cb{i}" for i in range(BUCKETS)), *(f"rb{i}" for i in range(BUCKETS)))  # fmt: skip


def _columns(counter_default: bool) -> list[sa.Column]:
    default = {"server_default": "0"} if counter_default else {}
    return [
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=n), nullable=False) for name, n in DIMENSIONS),
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=191), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False, **default) for name in COUNTERS),
        sa.PrimaryKeyConstraint("id"),
    ]


def upgrade() -> None:
    op.create_table(TABLE, *_columns(True), sa.UniqueConstraint(*KEY, name=f"uq_{TABLE}"))
    op.create_table(f"{TABLE}_log", *_columns(False))
    bind = op.get_bind()
    month = (
        "CAST(date_trunc('month', day) AS DATE)" if bind.dialect.name == "postgresql" else "date(day, 'start of month')"
    )
    rest = ", ".join(KEY[1:])
    sums = ", ".join(f"SUM({c})" for c in COUNTERS)
    both = " UNION ALL ".join(f"SELECT {', '.join(KEY)}, {', '.join(COUNTERS)} FROM {t}"
                              for t in ("report_followups", "report_followups_log"))  # fmt: skip
    op.execute(
        f"INSERT INTO {TABLE} ({', '.join(KEY)}, {', '.join(COUNTERS)}) "
        f"SELECT {month} AS month, {rest}, {sums} FROM ({both}) AS followups GROUP BY {month}, {rest}"
    )


def downgrade() -> None:
    op.drop_table(f"{TABLE}_log")
    op.drop_table(TABLE)
