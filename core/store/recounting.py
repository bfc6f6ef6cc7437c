"""Recounting the rollups around a write that changes many rows or columns a Survey does not hold (question
statuses, follow-ups, skips, erasure, retention, theme rebuilds): `recounting` reads the rows before and after the
write and adds their change to the transaction's pending changes; a long list of ids, and a table whose rule reads
what the row reads do not hold, are recounted with grouped statements (`recount`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

from sqlalchemy import bindparam, case, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, ColumnClause, Null

from core import rollups as r
from core.store import followup_rollup
from core.store.rollup_pending import add_change, pending_changes
from core.store.rollup_sql import COUNTERS, KEYS, ORDER, S, T, grouped, upsert, with_followers


async def recount(conn: AsyncConnection, where: Sequence[Any], tables: Sequence[str], sign: int) -> None:
    """Add (sign 1) or subtract (-1) the contributions of the surveys `where` selects, one grouped statement per
    table: read now and added to the transaction's pending changes, or upserted at once outside one."""
    pending = pending_changes(conn)
    tables = with_followers(tables)
    for table in (t for t in ORDER if t in tables):
        summed = grouped(conn.dialect.name, table, where, sign)
        if pending is None:
            await conn.execute(upsert(conn.dialect.name, table, summed))
            continue
        width = len(KEYS[table])
        for row in (await conn.execute(summed)).all():
            pending.add(table, tuple(row[:width]), dict(zip(COUNTERS[table], row[width:], strict=True)))


def _locking(themes: bool, where: Sequence[Any]) -> Any:
    """SELECT … FOR UPDATE of the rows a grouped recount reads, in key order."""
    if themes:
        return select(T.c.survey_id).where(*where).order_by(T.c.survey_id, T.c.theme).with_for_update()
    return select(S.c.id).where(*where).order_by(S.c.id).with_for_update()


# What core.rollups' rules read of a survey row (the comment only as present or not).
READ = ("created_at", "asked_at", "state", "skip_reason", "score", "category", *r.DIMENSIONS, *r.EXTRAS)
# A rollup table whose rule reads more of a survey than READ: the join it is read through (from the surveys) and the
# columns it adds, labelled as the rule names them. Its recounts read the rows too; a table keyed on surveys that is
# in neither READ_ALONE nor here is recounted with the grouped statements.
READ_MORE: dict[str, tuple[Any, tuple[Any, ...]]] = {}
READ_MORE[followup_rollup.TABLE] = (followup_rollup.SOURCE, followup_rollup.STORED)  # the follow-up and its SLA row
READ_MORE[followup_rollup.MONTHS] = READ_MORE[followup_rollup.TABLE]
READ_ALONE = ("report_days", "report_skips")
THEMED = "report_theme_days"
# A recount over a longer list of ids than this (a retention batch holds up to 10,000) is summed by the grouped
# statements instead: the database sums many rows faster than Python reads them.
MAX_READ = 1000


@cache
def _reading(themes: bool, locking: bool, more: tuple[str, ...] = ()) -> Any:
    """SELECT what the rules read of the rows a recount covers, in key order (as a writer locks them): surveys by id,
    through the joins of the READ_MORE tables `more`; or theme rows by (survey, theme) with the dimensions the theme
    report reads (the row's own copies, the survey's for the rest), the row's asked_at and the survey's score.
    `locking` adds FOR UPDATE of the surveys (of the theme rows only, for themes)."""
    if themes:
        dims = [(T.c[d] if d in T.c else S.c[d]).label(d) for d in r.DIMENSIONS]
        q = select(T.c.survey_id, T.c.theme, T.c.asked_at, S.c.score, *dims)
        q = q.select_from(T.join(S, S.c.id == T.c.survey_id)).order_by(T.c.survey_id, T.c.theme)
        return q.with_for_update(of=T) if locking else q
    columns: dict[str, Any] = {c: S.c[c] for c in ("id", *READ)}
    columns["comment"] = case((S.c.comment.is_not(None), "1")).label("comment")
    source: Any = S
    for table in more:
        join, added = READ_MORE[table]
        source = join if source is S else source  # every join starts from the surveys
        columns |= {c.key: c for c in added if c.key not in columns}
    q = select(*columns.values()).select_from(source).order_by(S.c.id)
    return q.with_for_update(of=S) if locking else q


_THEME_FACTS = ("asked_at", "score", *r.DIMENSIONS)


Shape = tuple[tuple[str, str, str], ...]  # (table, column, operator) per condition


def _shape(where: Sequence[Any]) -> tuple[Shape, dict[str, Any]] | None:
    """`where` as its shape and the values it compares with, when each condition compares a column with a value
    (=, IN) or with NULL (IS, IS NOT), as every caller's does; None for anything else."""
    shape: list[tuple[str, str, str]] = []
    params: dict[str, Any] = {}
    for i, cond in enumerate(where):
        left = getattr(cond, "left", None)
        if not isinstance(cond, BinaryExpression) or not isinstance(left, ColumnClause):
            return None
        if left.table is None or _TABLES.get(left.table.name) is not left.table:
            return None
        right, op = cond.right, cond.operator
        if isinstance(right, BindParameter) and right.expanding == (op is operators.in_op) and op in _VALUED:
            params[f"w{i}"] = right.value
        elif not (isinstance(right, Null) and op in _NULL):
            return None
        shape.append((left.table.name, left.key, op.__name__))
    return tuple(shape), params


_VALUED = (operators.eq, operators.in_op)
_NULL = (operators.is_, operators.is_not)
_TABLES = {S.name: S, T.name: T}


@cache
def _shaped(themes: bool, locking: bool, more: tuple[str, ...], shape: Shape) -> Any:
    """`_reading` WHERE conditions of `shape`, their values bound as parameters w0, w1, …: built and compiled once."""
    conds = []
    for i, (table, column, op) in enumerate(shape):
        c = _TABLES[table].c[column]
        if op == "in_op":
            conds.append(c.in_(bindparam(f"w{i}", expanding=True)))
        elif op == "eq":
            conds.append(c == bindparam(f"w{i}", type_=c.type))
        else:
            conds.append(c.is_(None) if op == "is_" else c.is_not(None))
    return _reading(themes, locking, more).where(*conds)


async def _read(conn: AsyncConnection, where: Sequence[Any], themes: bool, more: tuple[str, ...], locking: bool) -> Any:
    """The rows `where` selects, by identity: a survey's row by its id; a survey's theme names by (survey, the facts
    its theme rows carry), so theme rows that copied different facts count apart."""
    shaped = _shape(where)
    if shaped is None:
        rows = (await conn.execute(_reading(themes, locking, more).where(*where))).all()
    else:
        rows = (await conn.execute(_shaped(themes, locking, more, shaped[0]), shaped[1])).all()
    if not themes:
        return {row[0]: row for row in rows}
    found: dict[Any, list[str]] = {}
    for row in rows:
        found.setdefault((row[0], *row[2:]), []).append(row[1])
    return found


def _change(before: Mapping[Any, Any], after: Mapping[Any, Any], themes: bool, tables: Sequence[str]) -> r.Delta:
    """Σ core.rollups.delta of each row from `before` to `after` (a row on one side only: inserted or deleted), in
    `tables`; rows that read the same on both sides are skipped."""
    parts: list[tuple[int, r.Delta]] = []
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if themes:
            row = dict(zip(_THEME_FACTS, key[1:], strict=True))
            change = r.delta(None if old is None else row, None if new is None else row, old or (), new or ())
        else:
            change = r.delta(None if old is None else old._mapping, None if new is None else new._mapping)
        parts.append((1, {t: change[t] for t in tables if t in change}))
    return r.combine(*parts)


def _listed(where: Sequence[Any]) -> int:
    """The longest list of values an IN of `where` names (0 when none does)."""
    longest = 0
    for cond in where:
        right = getattr(cond, "right", None)
        if isinstance(right, BindParameter) and right.expanding and isinstance(right.value, Sequence):
            longest = max(longest, len(right.value))
    return longest


@asynccontextmanager
async def recounting(conn: AsyncConnection, where: Sequence[Any], tables: Sequence[str] = ORDER) -> AsyncIterator[None]:
    """Around a write to the surveys (or theme rows) `where` selects: their rows are read before it and after it,
    in the same transaction, and the change of each row (core.rollups.delta) is added to the transaction's pending
    changes. `where` must select the same rows on both sides.

    On PostgreSQL the first read locks the rows (FOR UPDATE, in key order): a concurrent writer of the same rows
    then waits, and what is subtracted is what this transaction's write replaces (not a version another one is
    replacing meanwhile). A long list of ids (more than MAX_READ), and a table whose rule reads what READ and
    READ_MORE do not hold, are recounted with the grouped statements instead."""
    chosen = [t for t in ORDER if t in with_followers(tables)]
    many = _listed(where) > MAX_READ
    surveys = [] if many else [t for t in chosen if t in READ_ALONE or t in READ_MORE]
    themed = [] if many else [t for t in chosen if t == THEMED]
    grouped = [t for t in chosen if t not in surveys and t not in themed]
    reads = [(themes, covered) for themes, covered in ((False, surveys), (True, themed)) if covered]
    more = tuple(t for t in surveys if t in READ_MORE)
    locking = conn.dialect.name == "postgresql"
    if grouped and locking:
        await conn.execute(_locking(tuple(grouped) == (THEMED,), where))
    before = [await _read(conn, where, themes, more, locking) for themes, _ in reads]
    if grouped:
        await recount(conn, where, grouped, -1)
    yield
    change: r.Delta = {}
    for (themes, covered), old in zip(reads, before, strict=True):
        change |= _change(old, await _read(conn, where, themes, more, False), themes, covered)
    await add_change(conn, change)
    if grouped:
        await recount(conn, where, grouped, 1)
