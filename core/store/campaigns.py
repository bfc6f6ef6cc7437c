"""A campaign's reads and writes: contacts walked in id order a batch at a time (ix_contact_walk), the other contacts
of the people in a batch (ix_contact_person), and the batch's surveys inserted in one statement that leaves alone a
case already taken, so a period run twice asks nobody twice."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import exists, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store.privacy_tables import SuppressionRow
from core.store.tables import ContactRow, SurveyRow
from core.survey import Kind, State

C = ContactRow.__table__
S = SurveyRow.__table__
SUP = SuppressionRow.__table__

_COLUMNS = (
    C.c.id, C.c.channel, C.c.user_id, C.c.conversation_id, C.c.workspace, C.c.locale, C.c.timezone, C.c.name,
    C.c.attributes, C.c.consent, C.c.external_id, C.c.opted_out_at, C.c.unreachable_at, C.c.last_surveyed_at,
)  # fmt: skip


async def contact_batch(conn: AsyncConnection, profile: str, after: int, limit: int) -> Sequence[Any]:
    """The profile's next `limit` contacts with an id above `after`, in id order."""
    stmt = select(*_COLUMNS).where(C.c.profile == profile, C.c.id > after).order_by(C.c.id).limit(limit)
    return (await conn.execute(stmt)).all()


async def person_contacts(conn: AsyncConnection, profile: str, external_ids: Collection[str]) -> Sequence[Any]:
    """Every contact of the profile carrying one of `external_ids`, wherever it sits in the walk."""
    if not external_ids:
        return []
    stmt = select(*_COLUMNS).where(C.c.profile == profile, C.c.external_id.in_(sorted(external_ids)))
    return (await conn.execute(stmt)).all()


async def any_suppressed(conn: AsyncConnection, profile: str) -> bool:
    """Whether anyone of the profile is on the suppression list (if nobody is, no address needs hashing)."""
    return bool((await conn.execute(select(exists().where(SUP.c.profile == profile)))).scalar())


async def contact_count(conn: AsyncConnection, profile: str) -> int:
    return int((await conn.execute(select(func.count()).where(C.c.profile == profile))).scalar_one())


_TEXT = ("profile", "channel", "conversation_id", "user_id", "workspace", "case_id", "case_key", "locale",
         "customer_name", "campaign", "variant", "timezone")  # fmt: skip
_TIMES = ("created_at", "due_at")


@cache
def _insert(dialect: str) -> Any:
    """INSERT … SELECT from the batch sent as one JSON array (a row per survey): one statement and one parameter
    however many rows, skipping a case already taken."""
    names = (*_TEXT, *_TIMES, "next_check_at", "state", "kind", "reasks", "unparsed", "extra")
    if dialect == "postgresql":
        fields = ", ".join([*(f"{c} text" for c in _TEXT), *(f"{c} timestamptz" for c in _TIMES)])
        values = [*(f"r.{c}" for c in (*_TEXT, *_TIMES)), "r.due_at"]
        source = f"json_to_recordset(CAST(:rows AS json)) AS r({fields})"
        empty = "CAST('[]' AS json)", "CAST('{}' AS json)"
    else:
        values = [*(f"json_extract(value, '$.{c}')" for c in (*_TEXT, *_TIMES)), "json_extract(value, '$.due_at')"]
        source = "json_each(:rows) WHERE true"  # WHERE: SQLite reads ON CONFLICT after a bare FROM as a join's
        empty = "'[]'", "'{}'"
    select = ", ".join([*values, f"'{State.PENDING}'", f"'{Kind.RELATIONAL}'", "0", *empty])
    return text(
        f"INSERT INTO surveys ({', '.join(names)}) SELECT {select} FROM {source} "
        "ON CONFLICT (case_key) DO NOTHING RETURNING id"
    )


def _when(dialect: str, at: datetime) -> str:
    """A UTC time as each backend's column reads it from text."""
    utc = at.astimezone(UTC)
    return utc.isoformat() if dialect == "postgresql" else utc.replace(tzinfo=None).isoformat(" ", "microseconds")


async def insert_surveys(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert the pending relational surveys whose case is not taken yet (`rows`: the text columns, created_at and
    due_at); how many were new."""
    if not rows:
        return 0
    dialect = conn.dialect.name
    batch = [{c: r.get(c) for c in _TEXT} | {c: _when(dialect, r[c]) for c in _TIMES} for r in rows]
    result = await conn.execute(_insert(dialect), {"rows": json.dumps(batch)})
    return len(result.all())
