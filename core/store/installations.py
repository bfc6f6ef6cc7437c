"""Installations of a channel into the platform's tenants, and the install flow's states. A channel adapts its
platform's shapes to `Installation` (a Slack workspace or org: ids, details, sealed tokens); the SQL is here.

Removing an installation is one transaction: its tokens are dropped (the row stays, marked removed), the open
surveys of that workspace are skipped as `uninstalled`, and the messages still queued for it become dead letters
naming why, so nothing waits for a workspace that can no longer be reached."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store import rollups
from core.store.engine import Store
from core.store.inserts import dialect_insert
from core.store.installation_tables import InstallationRow, InstallStateRow
from core.store.tables import OutboxRow, SurveyRow
from core.survey import SkipReason, State
from core.types import Address

IN = InstallationRow.__table__
ST = InstallStateRow.__table__
S = SurveyRow.__table__
OB = OutboxRow.__table__
RESEAL_PAGE = 200
REASON_WIDTH = 64


@dataclass(frozen=True, slots=True)
class Installation:
    """One tenant's installation as stored. `secrets` is core.secrets' sealed blob (None once removed);
    `details` holds what is not secret (names, scopes, bot ids); `version` changes with every write."""

    channel: str
    profile: str
    workspace: str
    installed_at: datetime
    updated_at: datetime
    organization: str | None = None
    installed_by: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    secrets: str | None = None
    expires_at: datetime | None = None
    version: int = 0
    removed_at: datetime | None = None
    removed_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Removal:
    """What removing an installation did: whether one was installed, surveys skipped, queued messages given up."""

    installed: bool
    surveys: int
    messages: int


def _record(row: Any) -> Installation:
    return Installation(
        channel=row.channel,
        profile=row.profile,
        workspace=row.workspace,
        installed_at=row.installed_at,
        updated_at=row.updated_at,
        organization=row.organization,
        installed_by=row.installed_by,
        details=dict(row.details or {}),
        secrets=row.secrets,
        expires_at=row.expires_at,
        version=row.version,
        removed_at=row.removed_at,
        removed_reason=row.removed_reason,
    )


async def save(store: Store, installation: Installation) -> Installation:
    """Store an installation, replacing the tenant's earlier one (a reinstall, new scopes) or its removal."""
    i = installation
    values = {
        "channel": i.channel,
        "profile": i.profile,
        "workspace": i.workspace,
        "organization": i.organization,
        "installed_by": i.installed_by,
        "details": i.details,
        "secrets": i.secrets,
        "expires_at": i.expires_at,
        "version": 0,
        "installed_at": i.installed_at,
        "updated_at": i.updated_at,
        "removed_at": None,
        "removed_reason": None,
    }
    async with store.transaction() as conn:
        stmt = dialect_insert(conn.dialect.name, IN).values(values)
        changed = {k: stmt.excluded[k] for k in values if k not in ("channel", "profile", "workspace", "version")}
        stmt = stmt.on_conflict_do_update(
            index_elements=["channel", "profile", "workspace"], set_={**changed, "version": IN.c.version + 1}
        ).returning(IN.c.version)
        version = (await conn.execute(stmt)).scalar_one()
    return Installation(**{**_fields(i), "version": int(version), "removed_at": None, "removed_reason": None})


def _fields(i: Installation) -> dict[str, Any]:
    return {name: getattr(i, name) for name in Installation.__dataclass_fields__}


async def find(store: Store, channel: str, profile: str, workspaces: Sequence[str]) -> Installation | None:
    """The first of `workspaces` (in that order of preference) installed and not removed."""
    wanted = [w for w in workspaces if w]
    if not wanted:
        return None
    q = select(IN).where(IN.c.channel == channel, IN.c.profile == profile, IN.c.workspace.in_(wanted))
    async with store.read() as conn:
        rows = {r.workspace: r for r in (await conn.execute(q.where(IN.c.removed_at.is_(None)))).all()}
    return next((_record(rows[w]) for w in wanted if w in rows), None)


async def find_any(store: Store, channel: str, profile: str, workspace: str) -> Installation | None:
    """The tenant's row, removed or not (None: never installed here)."""
    q = select(IN).where(IN.c.channel == channel, IN.c.profile == profile, IN.c.workspace == workspace)
    async with store.read() as conn:
        row = (await conn.execute(q)).first()
    return None if row is None else _record(row)


async def listed(store: Store, channel: str, profile: str) -> list[Installation]:
    """Every tenant this profile's channel was installed in, removed ones included, oldest first."""
    q = select(IN).where(IN.c.channel == channel, IN.c.profile == profile).order_by(IN.c.id)
    async with store.read() as conn:
        return [_record(r) for r in (await conn.execute(q)).all()]


async def removed(conn: AsyncConnection, address: Address) -> bool:
    """Whether the conversation's workspace removed the app (a survey starting there is skipped)."""
    q = select(IN.c.id).where(
        IN.c.channel == address.channel,
        IN.c.profile == address.profile,
        IN.c.workspace == address.workspace,
        IN.c.removed_at.is_not(None),
    )
    return (await conn.execute(q)).first() is not None


async def replace_secrets(
    store: Store,
    installation: Installation,
    secrets: str,
    expires_at: datetime | None,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> Installation | None:
    """Save refreshed tokens over exactly the version they were refreshed from; None when another process saved
    first (or the tenant removed the app meanwhile): the caller reads the installation again."""
    i = installation
    values: dict[str, Any] = {"secrets": secrets, "expires_at": expires_at, "updated_at": now, "version": i.version + 1}
    if details is not None:
        values["details"] = details
    stmt = (
        update(IN)
        .where(
            IN.c.channel == i.channel,
            IN.c.profile == i.profile,
            IN.c.workspace == i.workspace,
            IN.c.version == i.version,
            IN.c.removed_at.is_(None),
        )
        .values(**values)
    )
    async with store.transaction() as conn:
        done = (await conn.execute(stmt)).rowcount == 1
    if not done:
        return None
    return Installation(**{**_fields(i), **values})


async def remove(store: Store, channel: str, profile: str, workspace: str, reason: str, now: datetime) -> Removal:
    """The tenant removed the app: drop its tokens (keeping the row, marked removed), skip its open surveys as
    uninstalled and give up the messages queued for it, with `reason` as their error. Repeating it changes nothing
    more."""
    reason = reason[:REASON_WIDTH]
    tenant = (IN.c.channel == channel, IN.c.profile == profile, IN.c.workspace == workspace)
    async with store.transaction() as conn:
        row = (await conn.execute(select(IN.c.id, IN.c.removed_at).where(*tenant).with_for_update())).first()
        gone = {"secrets": None, "expires_at": None, "removed_at": now, "removed_reason": reason, "updated_at": now}
        if row is None:
            base = {"channel": channel, "profile": profile, "workspace": workspace, "details": {}, "installed_at": now}
            await conn.execute(insert(IN).values(**base, **gone, version=0))
        elif row.removed_at is None:
            await conn.execute(update(IN).where(*tenant).values(**gone, version=IN.c.version + 1))
        unanswered = (
            S.c.profile == profile,
            S.c.channel == channel,
            S.c.workspace == workspace,
            S.c.state.in_([str(State.PENDING), str(State.ASKED)]),
        )
        ids = (await conn.execute(select(S.c.id).where(*unanswered).with_for_update())).scalars().all()
        skipped = await conn.execute(
            update(S)
            .where(*unanswered)
            .values(
                state=str(State.SKIPPED),
                skip_reason=str(SkipReason.UNINSTALLED),
                case_key=None,  # the case is free again should the workspace install the app anew
                next_check_at=None,
                completed_at=now,
            )
        )
        if ids:  # unanswered ones counted for no skip before; now each does
            await rollups.recount(conn, [S.c.id.in_(ids)], ("report_skips",), 1)
        waiting = or_(OB.c.status == "pending", and_(OB.c.status == "sending", OB.c.lease_until < now))
        dead = await conn.execute(
            update(OB)
            .where(
                OB.c.channel == channel,
                OB.c.profile == profile,
                waiting,
                OB.c.target["workspace"].as_string() == workspace,
            )
            .values(status="dead", lease_until=None, last_error=reason)
        )
    return Removal(row is not None and row.removed_at is None, skipped.rowcount, dead.rowcount)


async def forget_removal(store: Store, channel: str, profile: str, workspace: str) -> bool:
    """Drop the removal mark of a tenant served without a stored installation (a configured token that works
    again); True when there was one."""
    stmt = delete(IN).where(
        IN.c.channel == channel,
        IN.c.profile == profile,
        IN.c.workspace == workspace,
        IN.c.secrets.is_(None),
        IN.c.removed_at.is_not(None),
    )
    async with store.transaction() as conn:
        return (await conn.execute(stmt)).rowcount > 0


async def reseal_all(store: Store, change: Callable[[str], str | None]) -> tuple[int, int]:
    """Pass every stored sealed blob through `change` (None: leave it as it is), a page at a time, each saved only
    over the version it was read at (a token refreshed meanwhile is read again). Returns (changed, seen)."""
    changed = seen = 0
    after = 0
    while True:
        q = (
            select(IN.c.id, IN.c.version, IN.c.secrets)
            .where(IN.c.id > after, IN.c.secrets.is_not(None))
            .order_by(IN.c.id)
            .limit(RESEAL_PAGE)
        )
        async with store.read() as conn:
            rows = (await conn.execute(q)).all()
        if not rows:
            return changed, seen
        for row in rows:
            seen += 1
            version, sealed = row.version, row.secrets
            while sealed is not None:
                new = change(sealed)
                if new is None:
                    break
                stmt = (
                    update(IN)
                    .where(IN.c.id == row.id, IN.c.version == version)
                    .values(secrets=new, version=version + 1)
                )
                async with store.transaction() as conn:
                    if (await conn.execute(stmt)).rowcount == 1:
                        changed += 1
                        break
                    current = (await conn.execute(select(IN.c.version, IN.c.secrets).where(IN.c.id == row.id))).first()
                version, sealed = (current.version, current.secrets) if current is not None else (0, None)
        after = rows[-1].id


async def add_state(
    store: Store, channel: str, profile: str, state_hash: str, expires_at: datetime, now: datetime
) -> None:
    """Remember an install flow's state (by its hash) until it expires; expired ones are cleared on the way."""
    async with store.transaction() as conn:
        await conn.execute(delete(ST).where(ST.c.expires_at <= now))
        await conn.execute(
            insert(ST).values(state_hash=state_hash, channel=channel, profile=profile, expires_at=expires_at)
        )


async def take_state(store: Store, channel: str, profile: str, state_hash: str, now: datetime) -> bool:
    """True once for a state this profile's channel issued and that has not expired; it is used up either way."""
    async with store.transaction() as conn:
        taken = await conn.execute(
            delete(ST).where(
                ST.c.state_hash == state_hash,
                ST.c.channel == channel,
                ST.c.profile == profile,
                ST.c.expires_at > now,
            )
        )
    return taken.rowcount == 1
