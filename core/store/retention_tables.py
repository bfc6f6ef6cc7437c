"""The schedule of periodic chores (the retention pass): when each is next due and who holds it now. A stored lease,
not a timer in one process, decides who runs it, so among several workers exactly one does, and a crashed holder's
turn passes to another once its lease runs out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


class ChoreRow(SQLModel, table=True):
    __tablename__ = "chores"

    name: str = Field(primary_key=True, max_length=64)
    due_at: datetime
    lease_until: datetime | None = None
    leased_by: str | None = Field(default=None, max_length=64)
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    # What the chore keeps between runs (the retention pass: how far each profile's surveys have been processed)
    # and what its last run did (counts per kind of row).
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    last_counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
