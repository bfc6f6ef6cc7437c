"""One AUTOCOMMIT connection kept across the calls of a pass (the worker's records of its sends on PostgreSQL):
a pool checkout and return per call cost the worker more CPU than the statement it runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from core.store.engine import Store

T = TypeVar("T")


class KeptConnection:
    """While `keeping`, `run` hands its work the kept connection's driver connection (asyncpg's, got once per
    checkout: SQLAlchemy's way to it costs a greenlet switch per call); a concurrent call opens one of its own. A
    failure drops the connection, whose state is unknown, and stops keeping: the caller's retry goes through the
    pool, which SQLAlchemy watches for a dropped connection (a database restart invalidates the whole pool there).

    `planner_off` names PostgreSQL planner settings (enable_*) turned off on the connection while this holds it, and
    reset before it goes back to the pool."""

    def __init__(self, store: Store, planner_off: tuple[str, ...] = ()) -> None:
        self.store = store
        self.keeping = False
        self.planner_off = planner_off
        self._kept: tuple[AsyncConnection, Any] | None = None  # the kept connection, while no call is using it

    async def run(self, work: Callable[[Any], Awaitable[T]]) -> T:
        kept, self._kept = self._kept, None
        if kept is None:
            conn = await self.store.engine.connect()
            try:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                kept = conn, (await conn.get_raw_connection()).driver_connection
                if self.planner_off:
                    await kept[1].execute("; ".join(f"SET {name} = off" for name in self.planner_off))
            except BaseException:
                with suppress(Exception):
                    await conn.invalidate()  # its settings are unknown: not back to the pool
                await conn.close()
                raise
        conn, driver = kept
        try:
            result = await work(driver)
        except BaseException:
            self.keeping = False
            with suppress(Exception):
                await conn.invalidate()  # a dropped connection, a cancelled statement
                await conn.close()
            raise
        if self.keeping and self._kept is None:
            self._kept = kept
        else:
            await self._release(kept)
        return result

    async def close(self) -> None:
        """Stop keeping and close the kept connection."""
        self.keeping = False
        kept, self._kept = self._kept, None
        if kept is not None:
            await self._release(kept)

    async def _release(self, kept: tuple[AsyncConnection, Any]) -> None:
        """Back to the pool with the planner settings it had; one whose reset failed is dropped instead."""
        conn, driver = kept
        if self.planner_off:
            try:
                await driver.execute("; ".join(f"RESET {name}" for name in self.planner_off))
            except Exception:
                with suppress(Exception):
                    await conn.invalidate()
        await conn.close()
