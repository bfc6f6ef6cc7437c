"""The empty databases the benches fill: a new SQLite file, or a PostgreSQL database created for the run and
dropped after it (NPSBOT_BENCH_PG names the server's admin database); and the SQL each backend spells its own way
when the benches generate their rows inside the database."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core.store import Store

PG_ADMIN = os.environ.get("NPSBOT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


async def admin(sql: str) -> None:
    import asyncpg

    con = await asyncpg.connect(PG_ADMIN)
    try:
        await con.execute(sql)
    finally:
        await con.close()


@asynccontextmanager
async def empty_store(backend: str, tag: str) -> AsyncIterator[Store]:
    """A store on an empty database of `backend` ("sqlite" or "postgres"), named after `tag`, gone afterwards."""
    if backend == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix=f"npsbot-{tag}-"))
        store = Store(f"sqlite+aiosqlite:///{directory / 'bench.db'}")
        try:
            yield store
        finally:
            await store.dispose()
            shutil.rmtree(directory, ignore_errors=True)
        return
    name = f"npsbot_{tag}_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{name}"')
    try:
        store = Store(PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}")
        try:
            yield store
        finally:
            await store.dispose()
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class Generated:
    """Rows numbered 1..n for INSERT … SELECT: `prefix` goes before the statement, `source` in its FROM (a column
    `i`); `at` a timestamp some seconds after `origin`, `js` a JSON value from text, `sep` the unit separator."""

    dialect: str
    origin: str  # "YYYY-MM-DD HH:MM:SS", UTC
    prefix: str
    source: str
    sep: str

    def at(self, seconds: str) -> str:
        if self.dialect == "postgresql":
            return f"(timestamptz '{self.origin}+00' + ({seconds}) * interval '1 second')"
        return f"(strftime('%Y-%m-%d %H:%M:%S', '{self.origin}', '+' || ({seconds}) || ' seconds') || '.000000')"

    def js(self, value: str) -> str:
        return f"CAST({value} AS json)" if self.dialect == "postgresql" else value


def generated(dialect: str, rows: int, origin: datetime) -> Generated:
    """`rows` numbers from generate_series on PostgreSQL, from a recursive CTE on SQLite."""
    start = origin.strftime("%Y-%m-%d %H:%M:%S")
    if dialect == "postgresql":
        return Generated(dialect, start, "", f"generate_series(1::bigint, {rows}) AS g(i)", "chr(31)")
    recursive = f"WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {rows}) "
    return Generated(dialect, start, recursive, "g", "char(31)")
