"""A transaction's rollup changes, summed by key as its writes report them and appended to the rollups' change
logs at its commit (outside Store.transaction, appended at once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.ext.asyncio import AsyncConnection

from core import rollups as r
from core.store import pg_direct
from core.store.engine import BEFORE_COMMIT
from core.store.rollup_sql import COUNTERS, KEYS, LOGS, ORDER
from core.survey import Survey


class Pending:
    """The rollup changes of one transaction, summed by key and appended to the change logs just before it commits
    (Store.transaction runs its before-commit hooks): one multi-row INSERT per table. The log has no unique key, so
    concurrent transactions — group commits of many replies, most of them adding to the same few rollup rows — never
    wait for each other there; the worker folds the log into the rollups (core/store/rollup_fold.py)."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[r.Key, dict[str, int]]] = {t: {} for t in ORDER}

    def add(self, table: str, key: r.Key, counts: Mapping[str, Any]) -> None:
        if isinstance(key[0], str):  # SQLite's date() reads back as text
            key = (date.fromisoformat(key[0]), *key[1:])
        row = self.rows[table].setdefault(key, dict.fromkeys(COUNTERS[table], 0))
        for c, v in counts.items():
            row[c] += int(v or 0)

    async def __call__(self, conn: AsyncConnection) -> None:
        for table in ORDER:
            rows = [(k, v) for k, v in self.rows[table].items() if any(v.values())]
            if rows:
                names = [*KEYS[table], *COUNTERS[table]]
                params = [{f"k_{n}": x for n, x in zip(names, (*k, *(v[c] for c in COUNTERS[table])), strict=True)}
                          for k, v in rows]  # fmt: skip
                await pg_direct.executemany(conn, add_values(conn.dialect.name, table), params)
            self.rows[table].clear()


def _order(item: tuple[r.Key, Any]) -> tuple[str, ...]:
    return tuple("" if x is None else str(x) for x in item[0])


def pending_changes(conn: AsyncConnection) -> Pending | None:
    """The transaction's collector, registered as a before-commit hook; None outside Store.transaction (the change
    is then written at once)."""
    hooks = conn.info.get(BEFORE_COMMIT)
    if hooks is None:
        return None
    found = hooks.get("rollups")
    if found is None:
        found = hooks["rollups"] = Pending()
    return found


@cache
def add_values(dialect: str, table: str, prefix: str = "k") -> Any:
    """<table> += one row of bound counters (`{prefix}_<column>`), appended to its change log: no unique key there
    makes the INSERT wait for another transaction. Run with many parameter sets, one statement adds many rows."""
    log = LOGS[table]
    columns = (*KEYS[table], *COUNTERS[table])
    stmt = log.insert().values({c: bindparam(f"{prefix}_{c}", type_=log.c[c].type) for c in columns})
    VALUES[id(stmt)] = (table, prefix)
    return stmt


# The statements add_values hands out, by id: their table and parameter prefix, so a transaction that collects its
# changes can take their values as they are (core/store/rollups.py apply).
VALUES: dict[int, tuple[str, str]] = {}


async def add_change(conn: AsyncConnection, change: r.Delta) -> None:
    """Add `change` (core.rollups.delta of rows as read and as written, worked out in Python) to the transaction's
    pending rollup changes, written at its commit; outside Store.transaction, appended to the change logs at once."""
    pending = pending_changes(conn)
    if pending is not None:  # summed by key now and written at commit, table by table in ORDER
        for table in ORDER:
            for key, counts in change.get(table, {}).items():
                pending.add(table, key, counts)
        return
    for table in ORDER:
        for key, counts in sorted(change.get(table, {}).items(), key=_order):
            values = (*key, *(counts.get(c, 0) for c in COUNTERS[table]))
            names = (*KEYS[table], *COUNTERS[table])
            params = {f"k_{n}": v for n, v in zip(names, values, strict=True)}
            await conn.execute(add_values(conn.dialect.name, table), params)


async def add_themes(conn: AsyncConnection, survey: Survey, themes: Sequence[str]) -> None:
    """Theme rows were just stored for a response: report_theme_days += one per theme, by its score."""
    rows = r.theme_keys(r.facts(survey), themes)
    pending = pending_changes(conn)
    if pending is not None:
        for key, counter in rows:
            pending.add("report_theme_days", tuple(key), {s: int(s == counter) for s in r.SCORES})
        return
    stmt = add_values(conn.dialect.name, "report_theme_days", "t")
    for key, counter in rows:
        params = {f"t_{c}": v for c, v in zip(KEYS["report_theme_days"], key, strict=True)}
        await conn.execute(stmt, params | {f"t_{s}": int(s == counter) for s in r.SCORES})
