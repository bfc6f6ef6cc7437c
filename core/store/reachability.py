"""Whether a customer may and can be asked: their contact record (opted out, unreachable, last surveyed, locale and
time zone), the suppression list, whether their case already has a survey or their workspace removed the app; and
the webhook endpoints gone for good. Every function takes the caller's connection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store.inserts import insert_ignore
from core.store.installation_tables import InstallationRow
from core.store.privacy import suppressed_clause
from core.store.surveys import case_key
from core.store.tables import ContactRow, DeadEndpointRow, SurveyRow
from core.survey import ContactStatus
from core.types import Address

S = SurveyRow.__table__
C = ContactRow.__table__
D = DeadEndpointRow.__table__
IN = InstallationRow.__table__


async def contact_status(
    conn: AsyncConnection, address: Address, case_id: str, suppressed_by: Sequence[str] = ()
) -> ContactStatus:
    """`suppressed_by`: the hashes the address would be on the suppression list under (core.suppression)."""
    row = (
        await conn.execute(
            select(C.c.opted_out_at, C.c.unreachable_at, C.c.last_surveyed_at, C.c.locale, C.c.timezone).where(
                C.c.profile == address.profile, C.c.channel == address.channel, C.c.user_id == address.user_id
            )
        )
    ).first()
    taken_q = exists().where(S.c.case_key == case_key(address, case_id))
    listed_q = suppressed_clause(suppressed_by) if suppressed_by else literal(False)
    taken, listed = (await conn.execute(select(taken_q, listed_q))).one()
    taken, listed = bool(taken), bool(listed)
    if row is None:
        return ContactStatus(has_open_survey_for_case=taken, suppressed=listed)
    return ContactStatus(
        opted_out=row.opted_out_at is not None,
        unreachable=row.unreachable_at is not None,
        last_surveyed_at=row.last_surveyed_at,
        has_open_survey_for_case=taken,
        locale=row.locale,
        suppressed=listed,
        timezone=row.timezone,
    )


async def touch_contact(conn: AsyncConnection, address: Address, **values: Any) -> None:
    """Create the contact if new, then set the given columns (None values are left as they are)."""
    base = {"profile": address.profile, "channel": address.channel, "user_id": address.user_id}
    key = ("profile", "channel", "user_id")
    await conn.execute(insert_ignore(conn.dialect.name, C, key, key), base)
    values = {k: v for k, v in values.items() if v is not None}
    if values:
        await conn.execute(
            update(C)
            .where(C.c.profile == address.profile, C.c.channel == address.channel, C.c.user_id == address.user_id)
            .values(**values)
        )


async def contacts_when_due(conn: AsyncConnection, survey_ids: Sequence[int]) -> dict[int, ContactStatus]:
    """The contact of each survey as it stands now (opted out, unreachable, last asked, its workspace removed the
    app), by survey id: one query for a tick's batch. Survey and contact share (profile, channel, user_id); a
    survey without a contact record reads as a contact with nothing against it."""
    if not survey_ids:
        return {}
    person = and_(C.c.profile == S.c.profile, C.c.channel == S.c.channel, C.c.user_id == S.c.user_id)
    removed = exists().where(
        IN.c.channel == S.c.channel,
        IN.c.profile == S.c.profile,
        IN.c.workspace == S.c.workspace,
        IN.c.removed_at.is_not(None),
    )
    q = (
        select(S.c.id, C.c.opted_out_at, C.c.unreachable_at, C.c.last_surveyed_at, removed.label("uninstalled"))
        .select_from(S.outerjoin(C, person))
        .where(S.c.id.in_(sorted(survey_ids)))
    )
    return {
        r.id: ContactStatus(
            opted_out=r.opted_out_at is not None,
            unreachable=r.unreachable_at is not None,
            last_surveyed_at=r.last_surveyed_at,
            uninstalled=bool(r.uninstalled),
        )
        for r in (await conn.execute(q)).all()
    }


async def mark_endpoint_gone(conn: AsyncConnection, profile: str, url: str, now: datetime, reason: str) -> None:
    stmt = insert_ignore(conn.dialect.name, D, ("profile", "url", "gone_at", "reason"), ("profile", "url"))
    await conn.execute(stmt, {"profile": profile, "url": url[:1000], "gone_at": now, "reason": reason[:2000]})


async def gone_endpoints(conn: AsyncConnection, profile: str) -> set[str]:
    return set((await conn.execute(select(D.c.url).where(D.c.profile == profile))).scalars())
