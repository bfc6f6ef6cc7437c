"""Saving validated contact changes (core/contacts.py) a batch at a time, in one transaction per batch: the path the
API's PUT and bulk upsert and `npsbot contacts import` share. Someone erased on request (core/suppression.py) is
never stored again by an import or the API: their change is left out and reported as suppressed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.contacts import Contact, ContactChange
from core.store import Store
from core.store import contacts as q
from core.store import privacy as privacy_q
from core.suppression import SuppressionKeys, digest

MAX_BATCH = 1000  # changes per statement and transaction (each suppression lookup is an IN list of their hashes)


@dataclass(frozen=True, slots=True)
class Saved:
    saved: int  # contacts created or changed
    suppressed: tuple[int, ...]  # positions in the batch left out: erased on request


async def save(conn: Any, keys: SuppressionKeys, changes: Sequence[ContactChange], now: datetime) -> Saved:
    """Upsert `changes` in the caller's transaction, except the suppressed ones."""
    if not changes:
        return Saved(0, ())
    lookup = await keys.for_lookup(conn, now)
    hashes = [[digest(k, c.profile, c.channel, c.user_id) for k in lookup] for c in changes]
    listed = await privacy_q.suppressed_hashes(conn, {h for hs in hashes for h in hs})
    suppressed = tuple(i for i, hs in enumerate(hashes) if listed.intersection(hs))
    skipped = set(suppressed)
    saved = await q.upsert(conn, [c for i, c in enumerate(changes) if i not in skipped], now)
    return Saved(saved, suppressed)


async def save_batch(store: Store, keys: SuppressionKeys, changes: Sequence[ContactChange], now: datetime) -> Saved:
    """One transaction for the batch (at most MAX_BATCH changes)."""
    if len(changes) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} contacts in one batch")
    async with store.transaction() as conn:
        return await save(conn, keys, changes, now)


async def read(store: Store, profile: str, channel: str, user_id: str) -> Contact | None:
    async with store.read() as conn:
        row = await q.read(conn, profile, channel, user_id)
    if row is None:
        return None
    return Contact(**{k: row[k] for k in Contact.__dataclass_fields__})
