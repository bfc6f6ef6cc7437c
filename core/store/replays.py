"""Which survey a delivery key created, so a replay of the key (an API close's Idempotency-Key) is answered with
that survey rather than with nothing."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store.survey_lookup import K, storable_key


async def remember_survey(conn: AsyncConnection, key: str, survey_id: int) -> None:
    """Called in the transaction that claimed `key` and created the survey, so the link commits with both."""
    await conn.execute(update(K).where(K.c.key == storable_key(key)).values(survey_id=survey_id))


async def survey_created_by(conn: AsyncConnection, key: str) -> int | None:
    return (await conn.execute(select(K.c.survey_id).where(K.c.key == storable_key(key)))).scalar_one_or_none()
