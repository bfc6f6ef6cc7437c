"""One AUTOCOMMIT connection kept across the calls of a pass (the worker's records of its sends on PostgreSQL):
a pool checkout and return per call cost the worker more CPU than the statement it runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from core.store.engine import Store

T = TypeVar("T")


class KeptConnection:
    """While `keeping`, `run` hands its work the kept connection (a concurrent call opens one of its own). A failure
    drops the connection, whose state is unknown, and stops keeping: the caller's retry goes through the pool,
    which SQLAlchemy watches for a dropped connection (a database restart invalidates the whole pool there)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.keeping = False
        self._conn: AsyncConnection | None = None  # the kept connection, while no call is using it

    async def run(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        conn, self._conn = self._conn, None
        if conn is None:
            conn = await self.store.engine.connect()
            await conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            result = await work(conn)
        except BaseException:
            self.keeping = False
            with suppress(Exception):
                await conn.invalidate()  # a dropped connection, a cancelled statement
                await conn.close()
            raise
        if self.keeping and self._conn is None:
            self._conn = conn
        else:
            await conn.close()
        return result

    async def close(self) -> None:
        """Stop keeping and close the kept connection."""
        self.keeping = False
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()
