"""Driver impact per theme: how often each theme is mentioned, by whom, how the responses mentioning it score, and
how much it moves the overall NPS. Mentions, totals and the comments per category a share divides by are counted
from the report rollups (core/reports/rollup_query.py): whole UTC days from the day rows, partial ones from raw rows.

Impact on the overall NPS: with N responses of NPS `all`, of which n mention the theme, and `rest` the NPS of the
N − n that don't, impact = all − rest = (n / N) · (NPS of the mentions − rest): how many points the overall NPS
would move if the mentions had scored like the rest. Negative: the theme pulls the NPS down. Undefined (None) when
every response mentions it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from core.reports.analytics import Bucket, check_bucket
from core.reports.rollup_counts import day_counts, theme_counts
from core.reports.rollup_query import by_period
from core.reports.summary import MIN_RESPONSES, Filters, summary
from core.rollups import CATEGORIES
from core.scoring import NpsResult, nps
from core.store import Store
from core.store.tables import SurveyRow
from core.store.theme_tables import ResponseThemeRow

S = SurveyRow.__table__
T = ResponseThemeRow.__table__


def _result(counts: dict[str, int]) -> NpsResult:
    return nps(counts["promoter"], counts["passive"], counts["detractor"])


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
    """Responses with a comment in the filters, per category that has any."""
    async with store.read() as conn:
        got = await day_counts(conn, filters, [f"c_{c}" for c in CATEGORIES])
    counts = got.get((), {})
    return {c: n for c in CATEGORIES if (n := counts.get(f"c_{c}", 0))}


async def _mentions(store: Store, filters: Filters, per_day: bool = False) -> dict[tuple[Any, ...], dict[str, int]]:
    async with store.read() as conn:
        return await theme_counts(conn, filters, per_day)


async def _commented(store: Store, filters: Filters) -> dict[tuple[Any, ...], dict[str, int]]:
    async with store.read() as conn:
        return await day_counts(conn, filters, ("commented",), per_day=True)


async def theme_figures(store: Store, filters: Filters = Filters(), themes: Sequence[str] = ()) -> list[ThemeFigures]:
    """One row per theme mentioned in the filters (and per name in `themes`, mentioned or not), the most
    mentioned first."""
    mentioned, head, comments = await asyncio.gather(
        _mentions(store, filters), summary(store, filters), _comments_by_category(store, filters)
    )  # independent reads, each on its own connection
    rows = {key[0]: _result(c) for key, c in mentioned.items()}
    for name in themes:
        rows.setdefault(name, nps(0, 0, 0))
    total = head.result
    out = [ThemeFigures(theme, result, total, comments) for theme, result in rows.items()]
    return sorted(out, key=lambda f: (-f.mentions.responses, f.theme))


async def theme_trend(
    store: Store, filters: Filters = Filters(), bucket: Bucket = "week"
) -> dict[str, list[dict[str, Any]]]:
    """Per theme, per day / week / month of asking: mentions, their share of that period's comments, and their
    NPS ± margin. Periods without a mention are left out of a theme's list."""
    check_bucket(bucket)
    per_theme, per_day = await asyncio.gather(_mentions(store, filters, per_day=True), _commented(store, filters))
    mentions, commented = by_period(per_theme, bucket), by_period(per_day, bucket)
    out: dict[str, list[dict[str, Any]]] = {}
    for theme, period in sorted(mentions, key=lambda key: (key[1], key[0])):
        result, of = _result(mentions[theme, period]), commented.get((period,), {}).get("commented", 0)
        out.setdefault(theme, []).append(
            {
                "period": period,
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
