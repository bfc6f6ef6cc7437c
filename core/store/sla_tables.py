"""A detractor's follow-up SLA: its deadlines, when each was escalated, and when the worker should look again
(`next_check_at`, indexed like surveys' own deadline). One row per detractor whose routing rules set an SLA."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index
from sqlmodel import Field, SQLModel


class FollowUpSlaRow(SQLModel, table=True):
    __tablename__ = "followup_slas"
    __table_args__ = (Index("ix_followup_sla_due", "next_check_at"),)

    # Deleting a survey (erasure, retention) takes its SLA with it.
    survey_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("surveys.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
        )
    )
    profile: str = Field(max_length=64)
    started_at: datetime  # when the alert went out: the deadlines count from here
    claim_due_at: datetime | None = None
    resolve_due_at: datetime | None = None
    claim_escalated_at: datetime | None = None
    resolve_escalated_at: datetime | None = None
    next_check_at: datetime | None = None
    # Where escalations go: [{"channel": ..., "destination": ...}], fixed when the SLA started.
    escalate_to: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
