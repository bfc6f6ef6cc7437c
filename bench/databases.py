"""The empty databases the benches fill: a new SQLite file, or a PostgreSQL database created for the run and
dropped after it (NPSBOT_BENCH_PG names the server's admin database)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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
