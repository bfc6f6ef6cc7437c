"""Planner settings for the few report statements PostgreSQL misjudges; each lasts while its statement runs.

- A raw read of the few surveys a partial index holds (core/store/tables.py REPORT_INDEXES): the planner estimates
  the predicate from each column's statistics alone ("skipped", 3 % of the rows, times "asked", 97 %: some 290,000
  rows at 10M when none or a few exist), so it scans the table (3-6 s at 10M) instead of reading the index, which
  holds only those rows. A sequential scan, parallel workers and JIT compilation are ruled out for it; and the
  index's rows are read apart from the report's filters (`through_index`, a MATERIALIZED CTE): with a profile
  filtered it took the state and profile indexes together instead (3.3 s at 10M, under 1 ms now).
- The rollup rows grouped by every dimension (core/reports/shared_reads.py): the planner multiplies the dimensions'
  distinct values (some 30,000 groups where there are hundreds), so it sorts on disk in 4 MB of work memory; with
  64 MB it hashes in memory (1.9 s → 1.1 s at 10M), without workers or JIT, whose start costs more than they save.

SQLite groups in memory, but misjudges the same partial-index reads: its statistics of the asked_at and state
indexes promise one row for `asked_at IS NULL` or `state = 'skipped'` (an empty partial index has no statistics at
all), so at 10M it read 300,000 skipped surveys through them (0.7-0.9 s a statement) instead of the partial index's
few rows (under 1 ms). `through_index` names the index in the FROM clause (`INDEXED BY`) there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy import CTE, Table, column, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import TableClause

from core.reports.scope import DIMENSIONS
from core.store.tables import REPORT_INDEXES

READ = (*DIMENSIONS, "asked_at", "created_at")  # what a read through a partial index filters and groups by
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


class _IndexedTable(TableClause):
    """A table named in a FROM clause with the index SQLite must read it through; plain on other backends."""

    inherit_cache = False  # the index is not part of a cache key

    def __init__(self, table: Table, index: str) -> None:
        super().__init__(table.name, *(column(c.name, c.type) for c in table.columns))
        self.index = index


@compiles(_IndexedTable, "sqlite")
def _indexed_by(element: _IndexedTable, compiler: SQLCompiler, **kw: Any) -> str:
    named = compiler.visit_table(element, **kw)
    return f"{named} INDEXED BY {compiler.preparer.quote(element.index)}" if kw.get("asfrom") else named


def indexed(table: Table, index: str) -> TableClause:
    """`table` as a FROM element with its columns that SQLite reads through `index` (INDEXED BY); plain elsewhere.
    For a read that walks the index in order and stops at its limit, which a CTE of all its rows would not."""
    return _IndexedTable(table, index)


def through_index(table: Table, predicate: str) -> CTE:
    """The rows of the partial index whose predicate is `predicate` (core/store/tables.py REPORT_INDEXES), with the
    columns reports filter them by (READ), as a CTE to select from: read from that index alone, then filtered.
    SQLite is told the index (INDEXED BY); PostgreSQL reads them apart (MATERIALIZED): with a filter on one profile
    it took two larger indexes together instead (3.3 s at 10M for one profile's surveys skipped after asking)."""
    index = next(name for name, _, where in REPORT_INDEXES if where == predicate)
    rows = _IndexedTable(table, index)
    found = select(*(rows.c[name] for name in READ)).where(text(predicate))
    return found.cte(f"{index}_rows").prefix_with("MATERIALIZED", dialect="postgresql")
