"""Queries of the themes stored per response: written when a comment arrives (in its transaction) and replaced
in batches when the taxonomy changes. Every function takes the caller's connection."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store import rollups
from core.store.tables import SurveyRow
from core.store.theme_tables import ResponseThemeRow
from core.survey import Survey

S = SurveyRow.__table__
T = ResponseThemeRow.__table__
COLUMNS = ("survey_id", "theme", "profile", "channel", "agent", "team", "locale", "category", "asked_at")
_INSERT = insert(T).values({c: bindparam(c, type_=T.c[c].type) for c in COLUMNS})


@dataclass(frozen=True, slots=True)
class Commented:
    """A response with a comment, as the rebuild reads it: what matching needs and what a theme row copies."""

    id: int
    profile: str
    channel: str
    agent: str | None
    team: str | None
    locale: str
    category: str
    asked_at: datetime | None
    comment: str


def commented(survey: Survey) -> Commented:
    a = survey.address
    return Commented(
        survey.id or 0, a.profile, a.channel, survey.agent, survey.team, survey.locale, survey.category or "",
        survey.asked_at, survey.comment or "",
    )  # fmt: skip


def _rows(item: Commented, themes: Iterable[str]) -> list[dict[str, Any]]:
    base = {c: getattr(item, c) for c in COLUMNS[2:]} | {"survey_id": item.id}
    return [base | {"theme": theme} for theme in themes]


async def add(conn: AsyncConnection, survey: Survey) -> None:
    """Store the themes of a survey whose comment has just arrived (nothing when it mentions none)."""
    if survey.themes and survey.id is not None and survey.category is not None:
        await conn.execute(_INSERT, _rows(commented(survey), survey.themes))
        await rollups.add_themes(conn, survey, survey.themes)


async def of(conn: AsyncConnection, survey_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """The stored themes of each survey that has some, sorted."""
    if not survey_ids:
        return {}
    q = select(T.c.survey_id, T.c.theme).where(T.c.survey_id.in_(list(survey_ids))).order_by(T.c.survey_id, T.c.theme)
    found: dict[int, list[str]] = {}
    for survey_id, theme in (await conn.execute(q)).all():
        found.setdefault(int(survey_id), []).append(theme)
    return {k: tuple(v) for k, v in found.items()}


async def with_themes(conn: AsyncConnection, survey: Survey) -> Survey:
    """The survey with its stored themes; only a survey with a comment can have any, so others cost no query."""
    if survey.comment is None or survey.id is None:
        return survey
    return replace(survey, themes=(await of(conn, [survey.id])).get(survey.id, ()))


def _commented(profile: str | None) -> list[Any]:
    cond = [S.c.comment.is_not(None), S.c.category.is_not(None)]
    if profile is not None:
        cond.append(S.c.profile == profile)
    return cond


async def count_commented(conn: AsyncConnection, profile: str | None = None) -> int:
    q = select(func.count()).select_from(S).where(*_commented(profile))
    return int((await conn.execute(q)).scalar_one())


async def commented_after(
    conn: AsyncConnection, after_id: int, limit: int, profile: str | None = None
) -> list[Commented]:
    """The next `limit` responses with a comment by id (keyset: each batch starts where the last one ended)."""
    q = (
        select(S.c.id, S.c.profile, S.c.channel, S.c.agent, S.c.team, S.c.locale, S.c.category, S.c.asked_at,
               S.c.comment)
        .where(S.c.id > after_id, *_commented(profile))
        .order_by(S.c.id)
        .limit(limit)
    )  # fmt: skip
    return [Commented(*row) for row in (await conn.execute(q)).all()]


async def replace_themes(conn: AsyncConnection, assigned: Sequence[tuple[Commented, tuple[str, ...]]]) -> int:
    """Replace the stored themes of these responses with the given ones; returns how many rows were written."""
    if not assigned:
        return 0
    ids = [item.id for item, _ in assigned]
    rows = [row for item, themes in assigned for row in _rows(item, themes)]
    async with rollups.recounting(conn, [T.c.survey_id.in_(ids)], ("report_theme_days",)):
        await conn.execute(delete(T).where(T.c.survey_id.in_(ids)))
        if rows:
            await conn.execute(_INSERT, rows)
    return len(rows)


async def drop_unknown(conn: AsyncConnection, profile: str, known: Sequence[str]) -> int:
    """Themes no longer in the profile's taxonomy (a rebuild replaces the rest response by response)."""
    unknown = [T.c.profile == profile, T.c.theme.not_in(list(known))]
    await rollups.recount(conn, unknown, ("report_theme_days",), -1)
    return (await conn.execute(delete(T).where(*unknown))).rowcount
