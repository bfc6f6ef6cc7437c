"""Driver impact per theme: how often each theme is mentioned, by whom, how the responses mentioning it score, and
how much it moves the overall NPS. Every figure is a SQL aggregate over response_themes (which carries the report's
dimensions, so no join) and over surveys for the totals it is compared with.

Impact on the overall NPS: with N responses of NPS `all`, of which n mention the theme, and `rest` the NPS of the
N − n that don't, impact = all − rest = (n / N) · (NPS of the mentions − rest): how many points the overall NPS
would move if the mentions had scored like the rest. Negative: the theme pulls the NPS down. Undefined (None) when
every response mentions it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.sql.elements import ColumnElement

from core.reports.analytics import Bucket, _period
from core.reports.summary import DIMENSIONS, MIN_RESPONSES, Filters, summary
from core.scoring import NpsResult, nps
from core.store import Store
from core.store.tables import SurveyRow
from core.store.theme_tables import ResponseThemeRow

S = SurveyRow.__table__
T = ResponseThemeRow.__table__
CATEGORIES = ("promoter", "passive", "detractor")


def theme_where(filters: Filters) -> list[ColumnElement[bool]]:
    """The report filters (core/reports/summary.py) on response_themes' copies of the same columns."""
    cond: list[ColumnElement[bool]] = []
    if filters.profiles is not None:
        cond.append(T.c.profile.in_(filters.profiles))
    for dim in DIMENSIONS:
        value = getattr(filters, dim)
        if value is not None and dim in T.c:
            cond.append(T.c[dim] == value)
        elif value is not None:  # a dimension response_themes does not copy (workspace): read on the survey
            cond.append(T.c.survey_id.in_(select(S.c.id).where(S.c[dim] == value)))
    if filters.since is not None:
        cond.append(T.c.asked_at >= filters.since)
    if filters.until is not None:
        cond.append(T.c.asked_at < filters.until)
    return cond


def _mix(table: Any) -> list[Any]:
    return [func.coalesce(func.sum(case((table.c.category == c, 1), else_=0)), 0).label(c) for c in CATEGORIES]


def _result(row: Any) -> NpsResult:
    return nps(int(row.promoter), int(row.passive), int(row.detractor))


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True, slots=True)
class ThemeFigures:
    theme: str
    mentions: NpsResult  # the responses that mention the theme, by category, and their NPS ± margin
    total: NpsResult  # every response in the filters
    comments: dict[str, int]  # comments per category in the filters (what `share` divides by)

    @property
    def rest(self) -> NpsResult:
        m, t = self.mentions, self.total
        return nps(t.promoters - m.promoters, t.passives - m.passives, t.detractors - m.detractors)

    @property
    def impact(self) -> float | None:
        """Overall NPS minus the NPS the whole set would have if the mentions scored like the rest."""
        rest = self.rest
        if self.total.nps is None or rest.nps is None:
            return None
        return self.total.nps - rest.nps

    def share(self, category: str) -> float | None:
        """The fraction of this category's comments that mention the theme."""
        of = self.comments.get(category, 0)
        return None if of == 0 else getattr(self.mentions, f"{category}s") / of

    def as_dict(self, minimum: int = MIN_RESPONSES) -> dict[str, Any]:
        m = self.mentions
        return {
            "theme": self.theme,
            "mentions": m.responses,
            "promoters": m.promoters,
            "passives": m.passives,
            "detractors": m.detractors,
            "share": {c: _round(self.share(c), 4) for c in CATEGORIES},
            "nps": _round(m.nps),
            "margin": _round(m.margin),
            "margin_reason": m.margin_reason,
            "low": _round(m.low),
            "high": _round(m.high),
            "significant": m.responses >= minimum,
            "nps_without": _round(self.rest.nps),
            "impact": _round(self.impact),
        }


async def _comments_by_category(store: Store, filters: Filters) -> dict[str, int]:
    q = (
        select(S.c.category, func.count())
        .where(S.c.comment.is_not(None), S.c.category.is_not(None), *filters.where())
        .group_by(S.c.category)
    )
    async with store.read() as conn:
        return {str(c): int(n) for c, n in (await conn.execute(q)).all()}


async def theme_figures(store: Store, filters: Filters = Filters(), themes: Sequence[str] = ()) -> list[ThemeFigures]:
    """One row per theme mentioned in the filters (and per name in `themes`, mentioned or not), the most
    mentioned first."""
    q = select(T.c.theme, *_mix(T)).where(*theme_where(filters)).group_by(T.c.theme)
    async with store.read() as conn:
        rows = {r.theme: _result(r) for r in (await conn.execute(q)).all()}
    for name in themes:
        rows.setdefault(name, nps(0, 0, 0))
    total = (await summary(store, filters)).result
    comments = await _comments_by_category(store, filters)
    out = [ThemeFigures(theme, result, total, comments) for theme, result in rows.items()]
    return sorted(out, key=lambda f: (-f.mentions.responses, f.theme))


async def theme_trend(
    store: Store, filters: Filters = Filters(), bucket: Bucket = "week"
) -> dict[str, list[dict[str, Any]]]:
    """Per theme, per day / week / month of asking: mentions, their share of that period's comments, and their
    NPS ± margin. Periods without a mention are left out of a theme's list."""
    period = _period(store.dialect, bucket, T.c.asked_at).label("period")
    q = (
        select(period, T.c.theme, *_mix(T))
        .where(T.c.asked_at.is_not(None), *theme_where(filters))
        .group_by(period, T.c.theme)
        .order_by(period, T.c.theme)
    )
    all_period = _period(store.dialect, bucket).label("period")
    commented = (
        select(all_period, func.count())
        .where(S.c.comment.is_not(None), S.c.category.is_not(None), S.c.asked_at.is_not(None), *filters.where())
        .group_by(all_period)
    )
    async with store.read() as conn:
        rows = (await conn.execute(q)).all()
        per_period = {str(p): int(n) for p, n in (await conn.execute(commented)).all()}
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        result, of = _result(r), per_period.get(str(r.period), 0)
        out.setdefault(r.theme, []).append(
            {
                "period": str(r.period),
                "mentions": result.responses,
                "share_of_comments": None if of == 0 else round(result.responses / of, 4),
                "nps": _round(result.nps),
                "margin": _round(result.margin),
            }
        )
    return out


async def unmatched_comments(store: Store, filters: Filters, limit: int) -> tuple[list[tuple[str, str]], int]:
    """Comments that mention no theme, newest first (at most `limit`, as (text, locale)), and how many there are.
    Discovery reads their text, so this one query does load rows: bounded by `limit`."""
    none = ~select(T.c.survey_id).where(T.c.survey_id == S.c.id).exists()
    cond = [S.c.comment.is_not(None), none, *filters.where()]
    async with store.read() as conn:
        total = int((await conn.execute(select(func.count()).select_from(S).where(*cond))).scalar_one())
        q = select(S.c.comment, S.c.locale).where(*cond).order_by(S.c.id.desc()).limit(limit)
        rows = [(str(c), str(loc)) for c, loc in (await conn.execute(q)).all()]
    return rows, total
