"""Re-deriving the report rollups from raw rows: every table emptied and filled again by INSERT … SELECT … GROUP BY,
their change logs emptied in the same transaction (also run by migrations 0016 and 0018).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store import followup_rollup
from core.store.engine import Store
from core.store.rollup_sql import COUNTERS, KEYS, LOGS, ORDER, TABLES, grouped


def rebuild_statements(dialect: str, tables: Sequence[str] = ORDER) -> list[Any]:
    """Empty the rollups (`tables` of them: a migration names those that exist at its revision) and count every
    survey into them again: set-based, one statement per table."""
    chosen = [t for t in ORDER if t in tables]
    out: list[Any] = []
    if dialect == "postgresql":
        # Writers wait for the rebuild instead of adding to rows it is about to replace; readers go on. The groups
        # are hashed in memory rather than sorted on disk.
        out.append(text(f"LOCK TABLE {', '.join(chosen)} IN EXCLUSIVE MODE"))
        out.append(text("SET LOCAL work_mem = '256MB'"))
    if "report_followups" in chosen:  # the durations it counts, stored with the surveys
        out.append(followup_rollup.fill_seconds(dialect))
    out += [delete(TABLES[t]) for t in chosen]
    # Emptied and locked: plain INSERTs, each group one row, no conflict to resolve and no order to keep.
    columns = {t: [*KEYS[t], *COUNTERS[t]] for t in chosen}
    out += [TABLES[t].insert().from_select(columns[t], grouped(dialect, t, (), 1, ordered=False)) for t in chosen]
    return out


def _clear_logs(dialect: str) -> list[Any]:
    """The change logs emptied: what they held is in the raw rows the rebuild counts. On PostgreSQL locked first (a
    fold takes a log's lock before its rollup's): writers append after the rebuild commits, to the rows it made."""
    names = [LOGS[t].name for t in ORDER]
    lock = [text(f"LOCK TABLE {', '.join(names)} IN EXCLUSIVE MODE")] if dialect == "postgresql" else []
    return [*lock, *(delete(LOGS[t]) for t in ORDER)]


async def rebuild(conn: AsyncConnection) -> dict[str, int]:
    """Re-derive every rollup table from raw rows in the caller's transaction; rows written per table."""
    for stmt in [*_clear_logs(conn.dialect.name), *rebuild_statements(conn.dialect.name)]:
        await conn.execute(stmt)
    return {t: int((await conn.execute(select(func.count()).select_from(TABLES[t]))).scalar_one()) for t in ORDER}


async def rebuild_all(store: Store) -> dict[str, int]:
    """`rebuild` in a transaction of its own: the command's entry point."""
    async with store.transaction() as conn:
        return await rebuild(conn)
