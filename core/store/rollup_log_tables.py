"""The report rollups' change logs: one append-only table per rollup table (core/store/rollup_tables.py), with the
same key and counter columns plus an id, and no unique key.

A write's rollup changes are appended here at its commit instead of being added to the shared rollup rows: an
INSERT with no key to conflict on never waits for another transaction, where concurrent upserts of the same few
rows (same day, profile, channel, agent) queue on their row locks. The worker folds the log into the rollups
(core/store/rollup_fold.py) and readers add what is not folded yet (core/reports/rollup_query.py).

Every table rollup_tables defines (a model class or a plain Table) gets its log, named `<table>_log`.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, Table
from sqlmodel import SQLModel

from core.store import rollup_tables

metadata = SQLModel.metadata  # the metadata every table module registers with (core/store/tables.py)

SUFFIX = "_log"


def _log_of(rollup: Table) -> Table:
    """`<rollup>_log`: an id (64-bit on PostgreSQL, SQLite's rowid alias) and the rollup's other columns."""
    columns = [c for c in rollup.columns if c.name != "id"]
    return Table(
        f"{rollup.name}{SUFFIX}",
        metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        *(Column(c.name, c.type, nullable=False) for c in columns),
    )


def _rollups() -> dict[str, Table]:
    """The tables rollup_tables defines: its model classes' and its plain Table objects."""
    found: dict[str, Table] = {}
    for value in vars(rollup_tables).values():
        if isinstance(value, type) and value.__module__ == rollup_tables.__name__:
            value = getattr(value, "__table__", None)
        if isinstance(value, Table) and value.metadata is metadata:
            found[value.name] = value
    return found


LOGS: dict[str, Table] = {name: _log_of(t) for name, t in _rollups().items()}
