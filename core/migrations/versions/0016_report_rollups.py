"""report rollups: report_days, report_skips and report_theme_days, counts per UTC day and report dimensions

Existing surveys are counted into them here, with the same set-based statements `npsbot reports rebuild-rollups`
runs, so reports read filled rollups from the first start after the upgrade. (Those statements are the current
code's: should the rollup tables gain columns in a later revision, this one must carry its own copy instead.)

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

DIMENSIONS = (("profile", 64), ("channel", 32), ("agent", 191), ("team", 191), ("locale", 16), ("workspace", 64),
              ("kind", 16), ("campaign", 64), ("variant", 64))  # fmt: skip
SCORES = tuple(f"s{n}" for n in range(11))


def _key() -> list[sa.Column]:
    return [
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=n), nullable=False) for name, n in DIMENSIONS),
    ]


def _counters(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.BigInteger(), server_default="0", nullable=False) for name in names]


def upgrade() -> None:
    dims = [name for name, _ in DIMENSIONS]
    op.create_table(
        "report_days",
        *_key(),
        *_counters(
            "asked",
            *SCORES,
            "commented",
            "c_promoter",
            "c_passive",
            "c_detractor",
            "q_sent",
            "q_reached",
            "q_failed",
            "q_reported",
            "fu_open",
            "fu_claimed",
            "fu_resolved",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("day", *dims, name="uq_report_days"),
    )
    op.create_table(
        "report_skips",
        *_key(),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        *_counters("surveys"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("day", *dims, "reason", name="uq_report_skips"),
    )
    op.create_table(
        "report_theme_days",
        *_key(),
        sa.Column("theme", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        *_counters(*SCORES),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("day", *dims, "theme", name="uq_report_theme_days"),
    )
    # Existing surveys counted in, set-based (INSERT … SELECT … GROUP BY), as `npsbot reports rebuild-rollups` does.
    from core.store.rollup_rebuild import rebuild_statements

    bind = op.get_bind()
    for statement in rebuild_statements(bind.dialect.name, ("report_days", "report_skips", "report_theme_days")):
        bind.execute(statement)


def downgrade() -> None:
    for table in ("report_theme_days", "report_skips", "report_days"):
        op.drop_table(table)
