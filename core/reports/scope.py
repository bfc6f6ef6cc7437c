"""What a report covers: the filters every report takes, and the dimensions it can filter and break down by.
Its own module so the rollup query layer (core/reports/rollup_query.py) and the reports built on it share it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.sql.elements import ColumnElement

from core.store.tables import SurveyRow

S = SurveyRow.__table__
DIMENSIONS = ("profile", "channel", "agent", "team", "locale", "workspace", "kind", "campaign", "variant")


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrict a report; dates apply to when the survey was asked (so response rate compares like with like)."""

    profile: str | None = None
    channel: str | None = None
    agent: str | None = None
    team: str | None = None
    locale: str | None = None
    workspace: str | None = None  # the Slack workspace (team id, or org id for an org-wide install)
    kind: str | None = None  # core.survey.Kind: transactional or relational
    campaign: str | None = None  # a relational campaign's name
    variant: str | None = None  # the experiment's variant the survey got
    since: datetime | None = None
    until: datetime | None = None
    profiles: tuple[str, ...] | None = None  # the profiles a caller may see

    def matching(self, table: Any) -> list[ColumnElement[bool]]:
        """The profile and dimension conditions on any table with the dimension columns (surveys or rollups)."""
        cond: list[ColumnElement[bool]] = []
        if self.profiles is not None:
            cond.append(table.c.profile.in_(self.profiles))
        for dim in DIMENSIONS:
            value = getattr(self, dim)
            if value is not None:
                cond.append(table.c[dim] == value)
        return cond

    def where(self, table: Any = S) -> list[ColumnElement[bool]]:
        """The conditions on the surveys table (or another FROM element with its columns)."""
        return [*self.matching(table), *half_open(table.c.asked_at, self.since, self.until)]


def half_open(column: Any, low: Any, high: Any) -> list[ColumnElement[bool]]:
    """`low <= column < high`, an end that is None left open; the one reading of a report's date bounds."""
    cond: list[ColumnElement[bool]] = []
    if low is not None:
        cond.append(column >= low)
    if high is not None:
        cond.append(column < high)
    return cond
