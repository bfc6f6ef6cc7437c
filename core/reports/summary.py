"""Headline NPS and breakdowns by one dimension, with response rate and margin of error."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.sql.elements import ColumnElement

from core.scoring import NpsResult, nps
from core.store import Store
from core.store.tables import SurveyRow

S = SurveyRow.__table__
DIMENSIONS = ("profile", "channel", "agent", "team", "locale", "workspace", "kind", "campaign", "variant")
MIN_RESPONSES = 30  # below this an NPS is shown with its count but flagged as not significant


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

    def where(self) -> list[ColumnElement[bool]]:
        cond: list[ColumnElement[bool]] = []
        if self.profiles is not None:
            cond.append(S.c.profile.in_(self.profiles))
        for dim in DIMENSIONS:
            value = getattr(self, dim)
            if value is not None:
                cond.append(S.c[dim] == value)
        if self.since is not None:
            cond.append(S.c.asked_at >= self.since)
        if self.until is not None:
            cond.append(S.c.asked_at < self.until)
        return cond


@dataclass(frozen=True, slots=True)
class Summary:
    result: NpsResult
    asked: int

    @property
    def responses(self) -> int:
        return self.result.responses

    @property
    def response_rate(self) -> float | None:
        return None if self.asked == 0 else self.responses / self.asked

    def significant(self, minimum: int = MIN_RESPONSES) -> bool:
        """Too few responses make the interval meaningless; the count is still shown."""
        return self.responses >= minimum

    def as_dict(self, minimum: int = MIN_RESPONSES) -> dict[str, Any]:
        r = self.result
        return {
            "nps": None if r.nps is None else round(r.nps, 2),
            "margin": None if r.margin is None else round(r.margin, 2),
            "margin_reason": r.margin_reason,
            "low": None if r.low is None else round(r.low, 2),
            "high": None if r.high is None else round(r.high, 2),
            "promoters": r.promoters,
            "passives": r.passives,
            "detractors": r.detractors,
            "responses": r.responses,
            "asked": self.asked,
            "response_rate": None if self.response_rate is None else round(self.response_rate, 4),
            "significant": self.significant(minimum),
        }


def _counts() -> list[Any]:
    return [
        func.coalesce(func.sum(case((S.c.category == "promoter", 1), else_=0)), 0).label("promoters"),
        func.coalesce(func.sum(case((S.c.category == "passive", 1), else_=0)), 0).label("passives"),
        func.coalesce(func.sum(case((S.c.category == "detractor", 1), else_=0)), 0).label("detractors"),
        func.count(S.c.asked_at).label("asked"),
    ]


def _summary(row: Any) -> Summary:
    return Summary(nps(int(row.promoters), int(row.passives), int(row.detractors)), int(row.asked))


async def summary(store: Store, filters: Filters = Filters()) -> Summary:
    async with store.read() as conn:
        row = (await conn.execute(select(*_counts()).where(*filters.where()))).one()
    return _summary(row)


async def breakdown(store: Store, dimension: str, filters: Filters = Filters()) -> list[tuple[str | None, Summary]]:
    """One row per value of `dimension`, most responses first."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}; choose one of {', '.join(DIMENSIONS)}")
    col = S.c[dimension]
    q = select(col.label("key"), *_counts()).where(*filters.where()).group_by(col)
    async with store.read() as conn:
        rows = (await conn.execute(q)).all()
    out = [(r.key, _summary(r)) for r in rows]
    return sorted(out, key=lambda kv: (-kv[1].responses, str(kv[0])))
