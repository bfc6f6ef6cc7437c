"""Folding the rollups' change logs (core/store/rollup_log_tables.py) into the rollups, exactly once.

A fold takes the oldest log rows of a table (a bounded batch), sums them by key and adds the sums to the rollup rows
in key order, and deletes the rows it took, all in one transaction: a crash before its commit leaves the log as it
was, to be folded again, and a row once folded is gone.

- PostgreSQL: one statement, `WITH moved AS (DELETE FROM log WHERE id IN (the batch, FOR UPDATE SKIP LOCKED)
  RETURNING …) INSERT INTO rollup SELECT key, sum(…) FROM moved GROUP BY key ORDER BY key ON CONFLICT … DO UPDATE`,
  run on its own (autocommit). Concurrent folds take disjoint batches (a locked row is skipped); should two reach
  the same row anyway, the second finds it deleted and moves nothing. The upsert touches rollup rows in key order,
  so two folds wait for each other instead of deadlocking. Writers only append to the log and never wait for a
  fold.
- SQLite (one writer): the batch's bound read, INSERT … SELECT … GROUP BY … ON CONFLICT, then DELETE up to the
  bound, in one transaction.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, func, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store.engine import Store
from core.store.rollup_sql import COUNTERS, KEYS, LOGS, ORDER, upsert

BATCH = 5000  # log rows per statement: bounds a fold's transaction and the rows it locks


def _summed(table: str, source: Any) -> Any:
    keys = [source.c[k] for k in KEYS[table]]
    sums = [func.sum(source.c[c]).label(c) for c in COUNTERS[table]]
    return select(*keys, *sums).where(true()).group_by(*keys).order_by(*keys)


@cache
def _fold_postgresql(table: str) -> Any:
    """The one statement that moves up to :batch log rows into the rollup; its result is the number moved."""
    log = LOGS[table]
    batch = select(log.c.id).order_by(log.c.id).limit(bindparam("batch")).with_for_update(skip_locked=True)
    columns = [log.c[c] for c in (*KEYS[table], *COUNTERS[table])]
    moved = delete(log).where(log.c.id.in_(batch.scalar_subquery())).returning(*columns).cte("moved")
    folded = upsert("postgresql", table, _summed(table, moved)).cte("folded")
    return select(func.count()).select_from(moved).add_cte(folded)


@cache
def _fold_sqlite(table: str) -> tuple[Any, Any, Any]:
    """The batch's last id, the upsert of the log rows up to it, and their deletion."""
    log = LOGS[table]
    ids = select(log.c.id).order_by(log.c.id).limit(bindparam("batch")).subquery()
    bound = select(func.max(ids.c.id))
    upto = log.c.id <= bindparam("bound")
    up = select(*(log.c[c] for c in (*KEYS[table], *COUNTERS[table]))).where(upto).subquery()
    return bound, upsert("sqlite", table, _summed(table, up)), delete(log).where(upto)


async def fold_table(conn: AsyncConnection, table: str, batch: int = BATCH) -> int:
    """Move up to `batch` of `table`'s log rows into it, in the caller's transaction (on PostgreSQL one statement:
    run it on its own); the number of log rows moved."""
    if conn.dialect.name == "postgresql":
        return int((await conn.execute(_fold_postgresql(table), {"batch": batch})).scalar_one())
    bound_q, upsert, remove = _fold_sqlite(table)
    bound = (await conn.execute(bound_q, {"batch": batch})).scalar_one()
    if bound is None:
        return 0
    await conn.execute(upsert, {"bound": bound})
    return int((await conn.execute(remove, {"bound": bound})).rowcount)


async def fold(store: Store, batch: int = BATCH) -> dict[str, int]:
    """One batch of every rollup table's log folded, each in its own transaction (PostgreSQL: one statement each);
    the log rows moved per table."""
    out: dict[str, int] = {}
    for table in ORDER:

        async def one(conn: AsyncConnection, table: str = table) -> int:
            return await fold_table(conn, table, batch)

        out[table] = await (store.run_alone(one) if not store.is_sqlite else store.run_atomic(one))
    return out


async def fold_all(store: Store, batch: int = BATCH) -> int:
    """Fold until every log is empty (what was appended meanwhile included); the log rows moved."""
    total = 0
    while True:
        moved = await fold(store, batch)
        total += sum(moved.values())
        if all(n < batch for n in moved.values()):
            return total
