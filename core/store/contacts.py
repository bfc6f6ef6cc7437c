"""Contact records as the operator maintains them (core/contacts.py): a batch of changes is one prepared
INSERT … ON CONFLICT (profile, channel, user_id) DO UPDATE run once per contact, on SQLite and PostgreSQL alike.

Each row carries, next to its values, one flag per field saying whether the change gives it: the statement sets a
given field and keeps every other as stored, so contacts changing different fields share one statement. What the
service records on its own (opted_out_at, unreachable_at, last_surveyed_at, last_inbound_at) is never in it.
Attributes are merged in the database (SQLite's json_patch, PostgreSQL's jsonb ||), a null removing a key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import JSON, Boolean, and_, bindparam, case, cast, func, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from core.contacts import TEXT_FIELDS, ContactChange
from core.store.inserts import dialect_insert
from core.store.tables import ContactRow

C = ContactRow.__table__
KEY = ("profile", "channel", "user_id")
FLAGGED = (*TEXT_FIELDS, "consent", "attributes")
INSERTED = (*KEY, *TEXT_FIELDS, "consent", "consent_at", "attributes", "created_at", "updated_at")


def _given(name: str) -> Any:
    return bindparam(f"given_{name}", type_=Boolean())


def _merged(dialect: str, patch: Any) -> Any:
    """The stored attributes with `patch` applied (RFC 7396 on a flat object: a null removes the key)."""
    if dialect == "postgresql":
        joined = cast(C.c.attributes, JSONB).op("||")(cast(patch, JSONB))
        return cast(func.jsonb_strip_nulls(joined), JSON)
    return func.json_patch(C.c.attributes, patch)


@cache
def _upsert(dialect: str) -> Any:
    """Built once per dialect (SQLAlchemy then compiles it once) and executed with one parameter set per contact."""
    stmt = dialect_insert(dialect, C).values({c: bindparam(c, type_=C.c[c].type) for c in INSERTED})
    new = stmt.excluded
    values: dict[str, Any] = {c: case((_given(c), new[c]), else_=C.c[c]) for c in (*TEXT_FIELDS, "consent")}
    # A consent repeated unchanged (a nightly CRM sync) keeps the time it was first recorded.
    repeated = and_(C.c.consent.is_not_distinct_from(new.consent), C.c.consent_at.is_not(None))
    values["consent_at"] = case(
        (_given("consent"), case((repeated, C.c.consent_at), else_=new.consent_at)), else_=C.c.consent_at
    )
    patch = bindparam("attributes_patch", type_=C.c.attributes.type)
    values["attributes"] = case((_given("attributes"), _merged(dialect, patch)), else_=C.c.attributes)
    values["updated_at"] = new.updated_at
    return stmt.on_conflict_do_update(index_elements=list(KEY), set_=values)


def _row(change: ContactChange, now: datetime) -> dict[str, Any]:
    v = change.values
    patch = v.get("attributes") or {}
    row: dict[str, Any] = {"profile": change.profile, "channel": change.channel, "user_id": change.user_id}
    row |= {c: v.get(c) for c in (*TEXT_FIELDS, "consent")}
    row["consent_at"] = now if v.get("consent") is not None else None
    row["attributes"] = {k: a for k, a in patch.items() if a is not None}  # a new contact: nothing to remove
    row["attributes_patch"] = patch
    row |= {f"given_{c}": c in v for c in FLAGGED}
    row["created_at"] = row["updated_at"] = now
    return row


async def upsert(conn: AsyncConnection, changes: Sequence[ContactChange], now: datetime) -> int:
    """Create or change each contact; returns how many. Sorted by key, so two batches never lock crosswise."""
    rows = [_row(c, now) for c in sorted(changes, key=lambda c: c.key)]
    if rows:
        await conn.execute(_upsert(conn.dialect.name), rows)
    return len(rows)


async def read(conn: AsyncConnection, profile: str, channel: str, user_id: str) -> dict[str, Any] | None:
    q = select(C).where(C.c.profile == profile, C.c.channel == channel, C.c.user_id == user_id)
    row = (await conn.execute(q)).first()
    return None if row is None else dict(row._mapping)


async def adopt_timezone(conn: AsyncConnection, profile: str, channel: str, user_id: str, timezone: str) -> None:
    """A platform's hint becomes the contact's zone only while the contact has none: an operator's zone wins."""
    await conn.execute(
        update(C)
        .where(C.c.profile == profile, C.c.channel == channel, C.c.user_id == user_id, C.c.timezone.is_(None))
        .values(timezone=timezone)
    )
