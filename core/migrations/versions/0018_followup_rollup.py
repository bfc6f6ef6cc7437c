"""follow-up rollup: report_followups (completed detractors per day, dimensions and claimer: SLA counts and the
claim / resolution durations' histograms), the durations stored on surveys (claim_seconds, resolve_seconds) with
partial indexes, and a partial index over the follow-ups still open

Existing rows are filled set-based with the statements `npsbot reports rebuild-rollups` runs: one UPDATE of the
claimed or resolved surveys' durations and one INSERT … SELECT … GROUP BY into the rollup (the current code's: should
report_followups or the durations change in a later revision, this one must carry its own copy instead); the
indexes are built after them.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

DIMENSIONS = (("profile", 64), ("channel", 32), ("agent", 191), ("team", 191), ("locale", 16), ("workspace", 64),
              ("kind", 16), ("campaign", 64), ("variant", 64))  # fmt: skip
BUCKETS = 46  # core.rollups.FOLLOWUP_BOUNDS has 45 bounds
COUNTERS = ("detractors", "with_sla", "claimed", "resolved", "claim_late", "resolve_late", "claim_escalated",
            "resolve_escalated",
            *(f"cb{i}" for i in range(BUCKETS)), *(f"rb{i}" for i in range(BUCKETS)))  # fmt: skip
OPEN = "category = 'detractor' AND state = 'completed' AND (claimed_at IS NULL OR resolved_at IS NULL)"
SECONDS = ("claim_seconds", "resolve_seconds")


def upgrade() -> None:
    bind = op.get_bind()
    for column in SECONDS:
        op.add_column("surveys", sa.Column(column, sa.Float(), nullable=True))
    op.create_table(
        "report_followups",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=n), nullable=False) for name, n in DIMENSIONS),
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=191), nullable=False),
        *(sa.Column(name, sa.BigInteger(), server_default="0", nullable=False) for name in COUNTERS),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("day", *(name for name, _ in DIMENSIONS), "claimed_by", name="uq_report_followups"),
    )
    # The durations of the surveys claimed or resolved already (one UPDATE), then the rollup (one INSERT … SELECT).
    from core.store.rollup_rebuild import rebuild_statements

    for statement in rebuild_statements(bind.dialect.name, ("report_followups",)):
        bind.execute(statement)
    for column in SECONDS:  # built once the durations are in
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(f"ix_survey_{column}", "surveys", [column], postgresql_where=where, sqlite_where=where)
    where = sa.text(OPEN)
    op.create_index("ix_survey_followup_open", "surveys", ["asked_at"], postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    op.drop_table("report_followups")
    for name in ("ix_survey_followup_open", "ix_survey_resolve_seconds", "ix_survey_claim_seconds"):
        op.drop_index(name, table_name="surveys")
    with op.batch_alter_table("surveys") as batch:
        for column in reversed(SECONDS):
            batch.drop_column(column)
