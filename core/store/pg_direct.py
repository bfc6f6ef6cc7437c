"""The reply path's statements on PostgreSQL, sent to asyncpg directly inside the caller's SQLAlchemy transaction.

SQLAlchemy's execution around one statement (its execution context, the greenlet hop, the DBAPI adapter, the result
object) costs about 0.1 ms of CPU, more than asyncpg needs to send the statement and read its answer. A reply runs
two such statements, so the ones on that path are compiled once here and sent through the connection SQLAlchemy has
checked out: the same SQL text, the same bound values converted by the same type processors, the same transaction
(begun as SQLAlchemy begins it), and a failure handed to SQLAlchemy to wrap, so callers see the exceptions they
would see otherwise (IntegrityError, DBAPIError with connection_invalidated after a dropped connection, which
invalidates the pool as SQLAlchemy does). Anything but PostgreSQL goes through SQLAlchemy as before.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement


@dataclass(slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the bound parameters in the order of $1, $2, …
    processors: tuple[Callable[[Any], Any] | None, ...]
    fixed: dict[str, Any]  # values bound in the statement itself (a state, a LIMIT)
    row: Any  # a named tuple of the result's columns, None for a statement without one
    types: tuple[Any, ...]  # the result columns' SQLAlchemy types
    # The result's type processors, by column position (the columns that have one): some depend on the column's
    # type in the database (numeric or float), so they are taken from the first execution's description, which
    # goes through SQLAlchemy.
    results: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None


_compiled: dict[tuple[int, str], tuple[ClauseElement, _Compiled]] = {}


def _compile(stmt: ClauseElement, conn: AsyncConnection) -> _Compiled:
    """Compiled once per statement object (the hot statements are built once and kept)."""
    key = (id(stmt), conn.dialect.name)
    found = _compiled.get(key)
    if found is not None and found[0] is stmt:
        return found[1]
    dialect = conn.dialect
    compiled: Any = stmt.compile(dialect=dialect)
    if compiled.literal_execute_params or compiled.post_compile_params:
        raise ValueError("a statement with expanding or literal parameters must go through SQLAlchemy")
    names = tuple(compiled.positiontup or ())
    bind = compiled._bind_processors
    columns = compiled._result_columns
    entry = _Compiled(
        sql=compiled.string,
        names=names,
        processors=tuple(bind.get(name) for name in names),
        fixed={k: v for k, v in compiled.construct_params(_check=False).items() if v is not None},
        row=namedtuple("Row", [c.keyname for c in columns], rename=True) if columns else None,  # type: ignore[misc]
        types=tuple(c.type for c in columns),
        results=None if columns else (),
    )
    _compiled[key] = (stmt, entry)
    return entry


def _arguments(compiled: _Compiled, params: Mapping[str, Any]) -> list[Any]:
    values = compiled.fixed | dict(params) if compiled.fixed else params
    return [
        values.get(name) if process is None else process(values.get(name))
        for name, process in zip(compiled.names, compiled.processors, strict=True)
    ]


async def fetch(conn: AsyncConnection, stmt: ClauseElement, params: Mapping[str, Any]) -> list[Any]:
    """The rows `conn.execute(stmt, params).all()` returns (as named tuples), on PostgreSQL without SQLAlchemy's
    execution around it."""
    if conn.dialect.name != "postgresql":
        return list((await conn.execute(stmt, dict(params))).all())
    compiled = _compile(stmt, conn)
    if compiled.results is None:
        result = await conn.execute(stmt, dict(params))
        codes = [d[1] for d in result.cursor.description]
        types = zip(compiled.types, codes, strict=True)
        processors = (t._cached_result_processor(conn.dialect, code) for t, code in types)
        compiled.results = tuple((i, p) for i, p in enumerate(processors) if p is not None)
        return list(result.all())
    records = await _run(conn, compiled, _arguments(compiled, params), fetch=True)
    if compiled.row is None:
        return []
    return [_row(compiled, r) for r in records]


def _row(compiled: _Compiled, record: Any) -> Any:
    if not compiled.results:
        return compiled.row._make(record)
    values = list(record)
    for i, process in compiled.results:
        if values[i] is not None:
            values[i] = process(values[i])
    return compiled.row._make(values)


async def execute(conn: AsyncConnection, stmt: ClauseElement, params: Mapping[str, Any]) -> None:
    """`conn.execute(stmt, params)` for its effect only."""
    if conn.dialect.name != "postgresql":
        await conn.execute(stmt, dict(params))
        return
    compiled = _compile(stmt, conn)
    await _run(conn, compiled, _arguments(compiled, params), fetch=False)


async def executemany(conn: AsyncConnection, stmt: ClauseElement, params: Sequence[Mapping[str, Any]]) -> None:
    """`conn.execute(stmt, params)` with many parameter sets, for its effect only."""
    if conn.dialect.name != "postgresql":
        await conn.execute(stmt, [dict(p) for p in params])
        return
    compiled = _compile(stmt, conn)
    await _run(conn, compiled, [_arguments(compiled, p) for p in params], fetch=False, many=True)


async def _run(
    conn: AsyncConnection, compiled: _Compiled, args: Sequence[Any], *, fetch: bool, many: bool = False
) -> Any:
    if not conn.in_transaction():  # SQLAlchemy begins one on a connection's first statement: so does this
        await conn.begin()
    # The DBAPI adapter SQLAlchemy's asyncpg dialect wraps the driver connection in: its lock and its transaction,
    # begun on the first statement as the adapter begins it.
    adapted: Any = conn.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]
    async with adapted._execute_mutex:
        driver = adapted._connection
        try:
            if adapted._transaction is None:
                await adapted._start_transaction()
            if many:
                return await driver.executemany(compiled.sql, args)
            return await (driver.fetch(compiled.sql, *args) if fetch else driver.execute(compiled.sql, *args))
        except BaseException as error:
            failure: BaseException = error
            if isinstance(error, Exception):
                try:
                    adapted._handle_exception(error)  # raises the DBAPI error SQLAlchemy's adapter would
                except Exception as translated:
                    failure = translated
            await conn.run_sync(_raise_wrapped, failure, compiled.sql, args)
            raise


def _raise_wrapped(sync: Connection, error: BaseException, sql: str, args: Sequence[Any]) -> None:
    """Wrapped and handled as SQLAlchemy handles a failed statement (a disconnect invalidates the connection and the
    pool); raises."""
    sync._handle_dbapi_exception(error, sql, tuple(args), None, None)
