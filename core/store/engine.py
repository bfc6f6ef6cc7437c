"""The only place that creates database engines. SQLite is the embedded default, PostgreSQL the scale-out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from core.store.sqlite_driver import OneTripDBAPI
from core.store.tables import metadata

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
MIGRATION_LOCK = 0x6E7073626F74  # "npsbot": one advisory lock id shared by every process of a deployment
T = TypeVar("T")
Work = Callable[[AsyncConnection], Awaitable[Any]]


def normalize_url(url: str) -> str:
    """Accept plain sqlite:/postgresql: URLs and pick the async drivers the stack uses."""
    u = make_url(url)
    if u.drivername in ("sqlite", "sqlite+pysqlite"):
        u = u.set(drivername="sqlite+aiosqlite")
    elif u.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+asyncpg")
    return u.render_as_string(hide_password=False)


class Store:
    """Holds the engine. On SQLite every write goes through one lock so writers queue instead of colliding."""

    def __init__(self, url: str, *, pool_size: int = 20) -> None:
        self.url = normalize_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        # hide_parameters: a database error's text (logged with its traceback) never quotes the values, which hold
        # what customers wrote and their ids.
        if self.is_sqlite:
            self.engine: AsyncEngine = create_async_engine(
                self.url, module=OneTripDBAPI(), connect_args={"timeout": 30}, hide_parameters=True
            )
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            # A pool as large as the expected concurrency: overflow connections are opened and closed per use. No
            # ping per checkout (a round trip before every transaction): a connection the database dropped (it
            # restarted) fails its first statement, which invalidates every pooled connection at once, and
            # run_atomic / run_in_transaction run their work once more on a fresh one.
            self.engine = create_async_engine(self.url, pool_size=pool_size, max_overflow=5, hide_parameters=True)
        # The same pool; each statement commits by itself (run_alone).
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._pending: list[tuple[Work, asyncio.Future[Any]]] = []
        self._committers: set[asyncio.Task[None]] = set()
        # SQLite has one writer. On PostgreSQL a few groups commit side by side, so a round trip to the server
        # never leaves the others idle; more would only make the groups smaller.
        self.max_committers = 1 if self.is_sqlite else 4
        self.max_group = 64

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One atomic unit: state change, dedup key and outbox rows commit together or not at all. Work may leave
        hooks in `conn.info[BEFORE_COMMIT]` (name → async fn(conn)): they run once the unit succeeded, just before
        the commit (the report rollups write their summed changes there)."""
        if self._write_lock is None:
            async with self.engine.begin() as conn, _before_commit(conn):
                yield conn
            return
        async with self._write_lock, self.engine.begin() as conn, _before_commit(conn):
            yield conn

    async def run_atomic(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run `work` in a transaction of its own; when the database had dropped the connection (a restart), once
        more on a fresh one. `work` must be safe to run again after a rollback."""
        try:
            async with self.transaction() as conn:
                return await work(conn)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        async with self.transaction() as conn:
            return await work(conn)

    async def run_alone(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run `work` that is one statement, atomic by itself: on PostgreSQL without BEGIN and COMMIT around it
        (one round trip instead of three); on SQLite as a transaction. Retried once, like run_atomic."""
        if self.is_sqlite:
            return await self.run_atomic(work)
        for attempt in (1, 2):
            try:
                async with self._autocommit.connect() as conn:
                    return await work(conn)
            except DBAPIError as exc:
                if not exc.connection_invalidated or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def run_in_transaction(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run `work` atomically. Units that arrive while earlier ones are committing are committed together
        (group commit): one checkout, BEGIN and COMMIT for many events instead of one each, which is most of
        what a short unit costs. A unit that arrives while a committer is free starts at once.

        A unit may run more than once (its group failed) and must not itself call `run_in_transaction` or
        `transaction`: it would wait for the committer it is running on.
        """
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((work, future))
        self._committers = {t for t in self._committers if not t.done()}
        if len(self._committers) < self.max_committers:
            self._committers.add(asyncio.create_task(self._commit_groups()))
        return await future

    async def _commit_groups(self) -> None:
        while self._pending:
            group, self._pending = self._pending[: self.max_group], self._pending[self.max_group :]
            try:
                await self._commit(group)
            except BaseException as exc:  # this committer was cancelled (shutting down): its callers learn so
                for _, future in group:
                    _settle(future, error=exc)
                raise

    async def _commit(self, group: list[tuple[Work, asyncio.Future[Any]]]) -> None:
        async def run_group(conn: AsyncConnection) -> list[Any]:
            return [await work(conn) for work, _ in group]

        try:
            results = await self.run_atomic(run_group)
        except (Exception, asyncio.CancelledError) as exc:
            _unless_committer_cancelled(exc)
            # One unit failed and took the group's transaction with it (on PostgreSQL also a deadlock between
            # two groups): rerun each alone so only the failing one fails.
            for work, future in group:
                try:
                    async with self.transaction() as conn:
                        result = await work(conn)
                except (Exception, asyncio.CancelledError) as error:
                    _unless_committer_cancelled(error)
                    _settle(future, error=error)
                else:
                    _settle(future, result)
        else:
            for (_, future), result in zip(group, results, strict=True):
                _settle(future, result)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    async def migrate(self, revision: str = "head") -> None:
        """Bring the schema to `revision` with Alembic (used by `npsbot migrate` and at start-up)."""
        from alembic import command

        cfg = alembic_config(self.url)
        async with self.engine.begin() as conn:
            await conn.run_sync(_run_upgrade, cfg, revision, command)

    async def migrate_once(self, revision: str = "head") -> None:
        """Processes started together against one PostgreSQL take turns (an advisory lock), so only the first one
        creates the schema; SQLite's single writer already serialises them."""
        if self.is_sqlite:
            await self.migrate(revision)
            return
        async with self.engine.connect() as lock:
            await lock.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK})
            try:
                await self.migrate(revision)
            finally:
                await lock.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK})
                await lock.commit()

    async def ping(self) -> None:
        """One round trip on a fresh checkout; raises unless the database answers."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def create_all(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)

    async def dispose(self) -> None:
        await self.engine.dispose()


BEFORE_COMMIT = "npsbot.before_commit"


@asynccontextmanager
async def _before_commit(conn: AsyncConnection) -> AsyncIterator[None]:
    hooks: dict[str, Callable[[AsyncConnection], Awaitable[None]]] = {}
    info = conn.info  # kept: once a dropped connection is invalidated, conn.info raises instead of the failure
    info[BEFORE_COMMIT] = hooks
    try:
        yield
        for hook in list(hooks.values()):
            await hook(conn)
    finally:
        info.pop(BEFORE_COMMIT, None)


def _settle(future: asyncio.Future[Any], result: Any = None, *, error: BaseException | None = None) -> None:
    """Hand a unit its outcome, unless its caller has gone away (a cancelled request): the unit is committed
    either way, and the group goes on."""
    if future.done():
        return
    if isinstance(error, asyncio.CancelledError):
        future.cancel()
    elif error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _unless_committer_cancelled(error: BaseException) -> None:
    """A unit that ends in CancelledError (it awaited something that was cancelled) fails like any other
    unit; the committer being cancelled itself is passed on."""
    task = asyncio.current_task()
    if isinstance(error, asyncio.CancelledError) and task is not None and task.cancelling():
        raise error


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _run_upgrade(sync_conn, cfg, revision, command) -> None:
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, revision)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
