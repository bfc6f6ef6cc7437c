"""INSERT … ON CONFLICT, which PostgreSQL and SQLite spell alike but SQLAlchemy builds from each dialect's module."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Table, bindparam


def dialect_insert(dialect: str, table: Table) -> Any:
    """An INSERT into `table` that offers on_conflict_do_nothing / on_conflict_do_update for `dialect`."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


@cache
def insert_ignore(dialect: str, table: Table, columns: tuple[str, ...], index: tuple[str, ...]) -> Any:
    """INSERT … ON CONFLICT (`index`) DO NOTHING with a bound parameter per column, built once per table."""
    values = {c: bindparam(c, type_=table.c[c].type) for c in columns}
    return dialect_insert(dialect, table).values(values).on_conflict_do_nothing(index_elements=list(index))
