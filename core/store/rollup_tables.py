"""Report rollups: counts per UTC day and report dimensions, kept in step with the surveys they count, so a report's
cost depends on days × groups instead of rows (issue 18).

Key columns are NOT NULL strings with '' standing for NULL, so one unique key works on both backends. `day` is the
UTC date of the survey's asked_at (of created_at for skips). core/rollups.py says what each survey contributes;
core/store/rollups.py applies the changes in the transaction that makes them and rebuilds the tables from raw rows.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Column, Date, Index, Integer, Table, UniqueConstraint
from sqlmodel import AutoString, Field, SQLModel

from core.rollups import FOLLOWUP_COUNTERS

# The report dimensions every rollup is keyed by, in key order (core.reports.summary.DIMENSIONS).
DIMENSION_COLUMNS = ("profile", "channel", "agent", "team", "locale", "workspace", "kind", "campaign", "variant")
SCORE_COLUMNS = tuple(f"s{n}" for n in range(11))
DAY_COUNTERS = ("asked", *SCORE_COLUMNS, "commented", "c_promoter", "c_passive", "c_detractor",
                "q_sent", "q_reached", "q_failed", "q_reported",
                "fu_open", "fu_claimed", "fu_resolved")  # fmt: skip


def _sqlite_groups(name: str, *columns: str) -> Index:
    """An index SQLite reads a rollup's groups from in order, with every column read (migration 0023): it has no
    hash grouping, so a GROUP BY of the dimensions sorts every rollup row without it. PostgreSQL hashes and has
    none (`info["dialects"]`, which the schema test honours too)."""
    return Index(name, *columns, info={"dialects": ("sqlite",)}).ddl_if(dialect="sqlite")


def _big_id() -> Column:
    """64-bit keys on PostgreSQL; SQLite needs plain INTEGER for its rowid alias."""
    return Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)


def _counter() -> Any:
    """A count: BIGINT NOT NULL DEFAULT 0 (a Field, not a Column, so the shared bases can declare it once)."""
    return Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"}, nullable=False)


class _Dimensions(SQLModel):
    profile: str = Field(max_length=64)
    channel: str = Field(max_length=32)
    agent: str = Field(default="", max_length=191)
    team: str = Field(default="", max_length=191)
    locale: str = Field(default="", max_length=16)
    workspace: str = Field(default="", max_length=64)
    kind: str = Field(default="", max_length=16)
    campaign: str = Field(default="", max_length=64)
    variant: str = Field(default="", max_length=64)


class _Scores(_Dimensions):
    s0: int = _counter()
    s1: int = _counter()
    s2: int = _counter()
    s3: int = _counter()
    s4: int = _counter()
    s5: int = _counter()
    s6: int = _counter()
    s7: int = _counter()
    s8: int = _counter()
    s9: int = _counter()
    s10: int = _counter()


class ReportDayRow(_Scores, table=True):
    """Per day and dimensions: questions asked, responses by score, comments (in all and by category), the
    question's delivery and the detractor follow-ups by state."""

    __tablename__ = "report_days"
    __table_args__ = (
        UniqueConstraint("day", *DIMENSION_COLUMNS, name="uq_report_days"),
        _sqlite_groups("ix_report_days_groups", *DIMENSION_COLUMNS, "day", *DAY_COUNTERS),
    )

    id: int | None = Field(default=None, sa_column=_big_id())
    day: date = Field(sa_type=Date, nullable=False)
    asked: int = _counter()
    commented: int = _counter()
    c_promoter: int = _counter()  # the comments by category (what a theme's share of comments divides by)
    c_passive: int = _counter()
    c_detractor: int = _counter()
    q_sent: int = _counter()
    q_reached: int = _counter()
    q_failed: int = _counter()
    q_reported: int = _counter()
    fu_open: int = _counter()
    fu_claimed: int = _counter()
    fu_resolved: int = _counter()


class ReportSkipRow(_Dimensions, table=True):
    """Surveys skipped per day of creation, dimensions and reason."""

    __tablename__ = "report_skips"
    __table_args__ = (
        UniqueConstraint("day", *DIMENSION_COLUMNS, "reason", name="uq_report_skips"),
        _sqlite_groups("ix_report_skips_groups", *DIMENSION_COLUMNS, "reason", "day", "surveys"),
    )

    id: int | None = Field(default=None, sa_column=_big_id())
    day: date = Field(sa_type=Date, nullable=False)
    reason: str = Field(max_length=32)
    surveys: int = _counter()


class ReportThemeDayRow(_Scores, table=True):
    """Responses whose comment mentions a theme, per day, dimensions and theme, by score."""

    __tablename__ = "report_theme_days"
    __table_args__ = (
        UniqueConstraint("day", *DIMENSION_COLUMNS, "theme", name="uq_report_theme_days"),
        _sqlite_groups("ix_report_theme_days_themes", "theme", "day", *SCORE_COLUMNS, *DIMENSION_COLUMNS),
    )

    id: int | None = Field(default=None, sa_column=_big_id())
    day: date = Field(sa_type=Date, nullable=False)
    theme: str = Field(max_length=64)


def _followups(name: str = "report_followups") -> Table:
    """Completed detractors' follow-ups per day, dimensions and claimer (core.rollups.FOLLOWUP_COUNTERS: counts,
    then the claim and resolution durations' histograms, one column per bucket so a key stays one row)."""
    return Table(
        name,
        SQLModel.metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("day", Date(), nullable=False),
        *(Column(name, AutoString(length=n), nullable=False) for name, n in _WIDTHS),
        Column("claimed_by", AutoString(length=191), nullable=False),
        *(Column(name, BigInteger(), nullable=False, server_default="0") for name in FOLLOWUP_COUNTERS),
        UniqueConstraint("day", *DIMENSION_COLUMNS, "claimed_by", name=f"uq_{name}"),
    )


_WIDTHS = (("profile", 64), ("channel", 32), ("agent", 191), ("team", 191), ("locale", 16), ("workspace", 64),
           ("kind", 16), ("campaign", 64), ("variant", 64))  # fmt: skip
REPORT_FOLLOWUPS = _followups()
# The same counts per calendar month (`day` is the month's first day): a period's whole months are read from here,
# thirty times fewer rows than their days (core/reports/followup_query.py).
REPORT_FOLLOWUP_MONTHS = _followups("report_followup_months")
