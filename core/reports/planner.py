"""Planner settings for the few report statements PostgreSQL misjudges; each lasts while its statement runs.

- A raw read of the few surveys a partial index holds (core/store/tables.py REPORT_INDEXES): the planner estimates
  the predicate from each column's statistics alone ("skipped", 3 % of the rows, times "asked", 97 %: some 290,000
  rows at 10M when none or a few exist), so it scans the table (3-6 s at 10M) instead of reading the index, which
  holds only those rows. A sequential scan, parallel workers and JIT compilation are ruled out for it.
- The rollup rows grouped by every dimension (core/reports/shared_reads.py): the planner multiplies the dimensions'
  distinct values (some 30,000 groups where there are hundreds), so it sorts on disk in 4 MB of work memory; with
  64 MB it hashes in memory (1.9 s → 1.1 s at 10M), without workers or JIT, whose start costs more than they save.

SQLite picks the partial index by itself and groups in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

PARTIAL_INDEX = {"enable_seqscan": "off", "max_parallel_workers_per_gather": "0", "jit": "off"}
GROUPED = {"work_mem": "'64MB'", "max_parallel_workers_per_gather": "0", "jit": "off"}


@asynccontextmanager
async def _settings(conn: AsyncConnection, values: dict[str, str]) -> AsyncIterator[AsyncConnection]:
    if conn.dialect.name != "postgresql":
        yield conn
        return
    for name, value in values.items():
        await conn.execute(text(f"SET LOCAL {name} = {value}"))
    try:
        yield conn
    finally:
        for name in values:
            await conn.execute(text(f"SET LOCAL {name} TO DEFAULT"))


def through_partial_index(conn: AsyncConnection) -> AbstractAsyncContextManager[AsyncConnection]:
    return _settings(conn, PARTIAL_INDEX)


def grouped_in_memory(conn: AsyncConnection) -> AbstractAsyncContextManager[AsyncConnection]:
    return _settings(conn, GROUPED)
