"""The themes each response's comment mentions. A row carries a copy of the response's report dimensions
(profile, channel, agent, team, locale, category, asked_at), which never change once a comment is in, so the theme
report is one GROUP BY over this table with the same filters as the survey report, without a join."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Index
from sqlmodel import Field, SQLModel


class ResponseThemeRow(SQLModel, table=True):
    __tablename__ = "response_themes"
    __table_args__ = (
        Index("ix_response_theme_report", "profile", "asked_at"),  # every report filters by profile and period
        Index("ix_response_theme_name", "theme", "survey_id"),  # the comments that mention one theme
    )

    # Deleting a survey (erasure, retention) takes its themes with it.
    survey_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("surveys.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
        )
    )
    theme: str = Field(primary_key=True, max_length=64)
    profile: str = Field(max_length=64)
    channel: str = Field(max_length=32)
    agent: str | None = Field(default=None, max_length=191)
    team: str | None = Field(default=None, max_length=191)
    locale: str = Field(max_length=16)
    category: str = Field(max_length=16)
    asked_at: datetime | None = None
