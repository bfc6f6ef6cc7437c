"""The one-trip aiosqlite adapter behaves like a DB-API driver: results, row counts, errors and rollbacks are
what sqlite3 gives, in one trip to aiosqlite's thread per statement."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import SimpleQueue
from typing import Any

import aiosqlite
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store import Store
from core.store.engine import alembic_config
from tests.conftest import TABLES
from tests.scratch_tables import items_table, stored_keys


@pytest.fixture
async def lite(tmp_path: Path) -> AsyncIterator[tuple[Store, Table]]:
    """A migrated SQLite store (so it runs through the one-trip adapter) and a table of the test's own."""
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    await store.migrate()
    table = items_table()
    async with store.engine.begin() as conn:
        await conn.run_sync(table.metadata.create_all)
    yield store, table
    await store.dispose()


class _CountingQueue:
    """Stands in for aiosqlite's queue on the event-loop side; the worker thread keeps reading the real one."""

    def __init__(self, real: SimpleQueue[Any]) -> None:
        self.real = real
        self.puts = 0

    def put_nowait(self, item: Any) -> None:
        self.puts += 1
        self.real.put_nowait(item)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@contextmanager
def _count_trips(aio: aiosqlite.Connection) -> Iterator[_CountingQueue]:
    counter = _CountingQueue(aio._tx)
    aio._tx = counter  # type: ignore[assignment]
    try:
        yield counter
    finally:
        aio._tx = counter.real


async def _aiosqlite_of(conn: AsyncConnection) -> aiosqlite.Connection:
    raw = await conn.get_raw_connection()
    aio = raw.driver_connection
    assert isinstance(aio, aiosqlite.Connection)
    return aio


async def test_insert_returning_and_lastrowid(lite: tuple[Store, Table]) -> None:
    """SQLAlchemy reads new keys either from RETURNING rows or from the cursor's lastrowid; both must survive."""
    store, t = lite
    async with store.engine.begin() as conn:
        returned = (await conn.execute(insert(t).values(k="a", v=1).returning(t.c.id, t.c.k, t.c.v))).one()
        assert tuple(returned) == (1, "a", 1)
        plain = await conn.execute(insert(t).values(k="b", v=2))
        assert plain.inserted_primary_key == (2,)
        assert plain.lastrowid == 2
        raw = await conn.exec_driver_sql(f"INSERT INTO {t.name} (k, v) VALUES (?, ?)", ("c", 3))
        assert raw.lastrowid == 3
        many = await conn.execute(
            insert(t).returning(t.c.k, t.c.id, sort_by_parameter_order=True),
            [{"k": f"r{i}", "v": i} for i in range(5)],
        )
        assert [tuple(r) for r in many] == [(f"r{i}", 4 + i) for i in range(5)]
    async with store.read() as conn:
        assert (await conn.execute(select(t.c.v).where(t.c.id == 2))).scalar_one() == 2


async def test_rowcounts_of_update_delete_and_executemany(lite: tuple[Store, Table]) -> None:
    """rowcount is read inside the trip, so it must be the statement's own count, not a later cursor state."""
    store, t = lite
    async with store.engine.begin() as conn:
        inserted = await conn.execute(insert(t), [{"k": f"k{i:03}", "v": i % 3} for i in range(300)])
        assert inserted.rowcount == 300
        assert (await conn.execute(update(t).where(t.c.v == 0).values(v=10))).rowcount == 100
        assert (await conn.execute(delete(t).where(t.c.v == 1))).rowcount == 100
        assert (await conn.execute(update(t).where(t.c.k == "nope").values(v=5))).rowcount == 0
        bumped = await conn.execute(
            update(t).where(t.c.k == bindparam("key")).values(v=bindparam("value")),
            [{"key": "k000", "value": 7}, {"key": "k002", "value": 8}, {"key": "missing", "value": 9}],
        )
        assert bumped.rowcount == 2
    async with store.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(t))).scalar_one() == 200
        assert (await conn.execute(select(t.c.v).where(t.c.k == "k002"))).scalar_one() == 8


async def test_select_many_rows_and_the_result_api(lite: tuple[Store, Table]) -> None:
    """All rows are fetched in the one trip; every way of reading them must still see all of them, in order."""
    store, t = lite
    async with store.engine.begin() as conn:
        await conn.execute(insert(t), [{"k": f"k{i:04}", "v": i} for i in range(2500)])
    async with store.read() as conn:
        rows = (await conn.execute(select(t.c.k, t.c.v).order_by(t.c.v))).all()
        assert [tuple(r) for r in rows] == [(f"k{i:04}", i) for i in range(2500)]
        first = (await conn.execute(select(t.c.k).order_by(t.c.v.desc()))).first()
        assert first is not None and first.k == "k2499"
        assert (await conn.execute(select(func.max(t.c.v)))).scalar_one() == 2499
        result = await conn.execute(select(t.c.v).order_by(t.c.v))
        assert [r.v for r in result.fetchmany(3)] == [0, 1, 2]
        assert result.fetchone() == (3,)
        assert [r.v for r in result.fetchmany(2)] == [4, 5]
        assert len(result.fetchall()) == 2500 - 6
        assert (await conn.execute(select(t.c.k).where(t.c.v < 0))).first() is None
        streamed = await conn.stream(select(t.c.v).order_by(t.c.v))
        assert [r.v async for r in streamed] == list(range(2500))


async def test_statements_without_rows_and_pragmas(lite: tuple[Store, Table]) -> None:
    """DDL and PRAGMA writes return no description; the connect hook's pragmas really took effect."""
    store, _ = lite
    async with store.engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar_one() == "wal"
        assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar_one() == 1
        set_version = await conn.exec_driver_sql("PRAGMA user_version = 7")
        assert not set_version.returns_rows
        assert (await conn.exec_driver_sql("PRAGMA user_version")).scalar_one() == 7
        ddl = await conn.exec_driver_sql("CREATE TABLE scratch (x INTEGER)")
        assert not ddl.returns_rows
        await conn.exec_driver_sql("INSERT INTO scratch VALUES (1), (2)")
        await conn.commit()
        assert (await conn.exec_driver_sql("SELECT sum(x) FROM scratch")).scalar_one() == 3


async def test_integrity_error_rolls_back_and_connection_stays_usable(lite: tuple[Store, Table]) -> None:
    """Driver errors raised in the worker thread must reach SQLAlchemy as its own exception types."""
    store, t = lite
    async with store.engine.connect() as conn:
        await conn.execute(insert(t).values(k="a"))
        await conn.commit()
        with pytest.raises(IntegrityError):
            async with conn.begin():
                await conn.execute(insert(t).values(k="b"))
                await conn.execute(insert(t).values(k="a"))
        assert not conn.in_transaction()
        with pytest.raises(IntegrityError):
            async with conn.begin():
                await conn.execute(insert(t), [{"k": "c"}, {"k": "d"}, {"k": "c"}])
        assert (await conn.execute(select(t.c.k))).scalars().all() == ["a"]
        with pytest.raises(OperationalError):
            await conn.exec_driver_sql("SELEC 1")
        await conn.rollback()
        await conn.execute(insert(t).values(k="e"))
        await conn.commit()
    assert await stored_keys(store, t) == ["a", "e"]


async def test_rollback_undoes_uncommitted_writes(lite: tuple[Store, Table]) -> None:
    """The skip-the-rollback shortcut must not skip a rollback that has something to undo."""
    store, t = lite
    async with store.engine.connect() as conn:
        await conn.execute(insert(t).values(k="kept"))
        await conn.commit()
        await conn.execute(insert(t).values(k="explicit"))
        await conn.rollback()
        await conn.execute(update(t).values(v=99))
        await conn.execute(insert(t).values(k="closed"))
    # closed without commit: the pool's reset-on-return is the rollback here
    async with store.engine.connect() as conn:
        assert (await conn.execute(select(t.c.k, t.c.v))).all() == [("kept", 0)]
        aio = await _aiosqlite_of(conn)
        assert aio._conn.in_transaction is False


async def test_one_trip_per_statement(lite: tuple[Store, Table]) -> None:
    """The reason the adapter exists: one hand-off to aiosqlite's thread per statement, none for an empty
    rollback."""
    store, t = lite
    async with store.engine.connect() as conn:
        await conn.execute(insert(t), [{"k": f"k{i}", "v": i} for i in range(20)])
        await conn.commit()
        aio = await _aiosqlite_of(conn)

        with _count_trips(aio) as trips:
            rows = (await conn.execute(select(t.c.k).order_by(t.c.v))).all()
        assert len(rows) == 20
        assert trips.puts == 1

        with _count_trips(aio) as trips:
            await conn.rollback()  # the SELECT opened no sqlite transaction
        assert trips.puts == 0

        with _count_trips(aio) as trips:
            await conn.execute(insert(t).values(k="x"))
        assert trips.puts == 1

        with _count_trips(aio) as trips:
            await conn.execute(insert(t), [{"k": "y"}, {"k": "z"}])
        assert trips.puts == 1

        with _count_trips(aio) as trips:
            await conn.rollback()  # this one has writes to undo, so it must make its trip
        assert trips.puts == 1
        assert (await conn.execute(select(func.count()).select_from(t))).scalar_one() == 20


async def test_migrations_run_on_the_adapter(sqlite_store: Store) -> None:
    """Alembic drives the schema through the same adapter at start-up."""
    async with sqlite_store.read() as conn:
        names = set((await conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars())
        version = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).scalar_one()
    assert set(TABLES) <= names
    assert version == ScriptDirectory.from_config(alembic_config(sqlite_store.url)).get_current_head()
