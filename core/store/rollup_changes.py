"""Rollup changes a writer worked out in Python from rows it read (and, on PostgreSQL, locked) in its transaction:
no grouped SELECT before and after its write, no SQL expression to build per call (core/store/rollups.py's
`recounting`, whose statements cost more to build than to run on the worker's hot path)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from core import rollups as r
from core.store.rollups import COUNTERS, KEYS, ORDER, _add_values, _order, _pending


async def add_change(conn: AsyncConnection, change: r.Delta) -> None:
    """Add `change` (core.rollups.delta of the rows as read and as written) to the transaction's pending rollup
    changes, written at its commit; outside Store.transaction, upserted at once, in key order."""
    pending = _pending(conn)
    for table in ORDER:
        for key, counts in sorted(change.get(table, {}).items(), key=_order):
            if pending is not None:
                pending.add(table, key, counts)
                continue
            values = (*key, *(counts.get(c, 0) for c in COUNTERS[table]))
            names = (*KEYS[table], *COUNTERS[table])
            params = {f"k_{n}": v for n, v in zip(names, values, strict=True)}
            await conn.execute(_add_values(conn.dialect.name, table), params)
