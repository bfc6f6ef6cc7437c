"""Keeping the report rollups (core/store/rollup_tables.py) in step with the surveys they count, in the transaction
of every write that changes a counted field, and re-deriving them from raw rows.

Three ways in. Each appends its changes to the rollup tables' change logs (core/store/rollup_log_tables.py): a
write never waits on the rollup rows other writers add to; the worker folds the logs into the rollups exactly once
(core/store/rollup_fold.py), and reports read rollup and log together (core/reports/rollup_query.py):
- `apply(conn, old, new)` for one survey written from a core.survey.Survey (insert_survey, update_survey,
  save_step): when the Survey was read from its row in this transaction it carries the row's delivery status,
  ref and follow-up columns (Survey.row_extras, core.rollups.EXTRAS), and the change is worked out in Python with
  no statement; otherwise report_days' counters are read in SQL from the stored row with the Survey's values bound
  as parameters. A write that changes nothing counted (a re-ask, a reminder) costs nothing.
- `recounting(conn, where, tables)` (core/store/recounting.py) around a write that changes many rows or columns a
  Survey does not hold (question statuses, follow-ups, skips, erasure, retention, theme rebuilds): the matching rows
  are read with one plain SELECT before the write (locking them on PostgreSQL) and one after it, and their change is
  worked out in Python as for one survey, with no statement built per call. `where` must select the same rows before
  and after the write. A long list of ids (a retention batch) is recounted instead with a grouped SELECT per table
  before and after, which the database sums faster than Python reads the rows.
- `rebuild(conn)` (core/store/rollup_rebuild.py; and migration 0016): the tables emptied and filled again by
  INSERT … SELECT … GROUP BY, their change logs emptied in the same transaction.

A campaign's pending surveys (no asked_at, not skipped) contribute nothing until they are asked, so bulk inserts of
them need no rollup statement. Rollup rows are written by a fold (in key order: two folds wait for each other
instead of deadlocking), a rebuild and, outside Store.transaction, a grouped recount. A counter taken back to zero
leaves its row in place (all zeros counts as nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from sqlalchemy import Date, Integer, String, bindparam, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from core import rollups as r
from core.store import followup_rollup
from core.store.recounting import MAX_READ, recount, recounting
from core.store.rollup_pending import VALUES, add_change, add_themes, add_values, pending_changes
from core.store.rollup_rebuild import rebuild, rebuild_all, rebuild_statements
from core.store.rollup_sql import COUNTERS, EXTRAS, KEYS, LOGS, ORDER, TABLES, S, day_counters
from core.survey import Survey

# What callers use, from the modules that hold it: the registry and rules in SQL (core/store/rollup_sql.py), the
# transaction's pending changes (core/store/rollup_pending.py), recounts (core/store/recounting.py), rebuilds
# (core/store/rollup_rebuild.py). One Survey's write is worked out here.
__all__ = [
    "COUNTERS", "EXTRAS", "KEYS", "LOGS", "MAX_READ", "ORDER", "TABLES", "add_change", "add_themes", "apply", "plan",
    "rebuild", "rebuild_all", "rebuild_statements", "recount", "recounting",
]  # fmt: skip


# ---- one survey written from a Survey

_KNOWN = ("score", "category", "comment", "state")
_KNOWN_TYPES = {"score": Integer(), "category": String(), "comment": String(), "state": String()}


def _bound(prefix: str) -> dict[str, Any]:
    """The row as seen by day_counters: the Survey's values bound (prefix…), the extras read from the stored row."""
    known = {c: bindparam(f"{prefix}{c}", type_=_KNOWN_TYPES[c]) for c in _KNOWN}
    return known | {c: S.c[c] for c in r.EXTRAS}


def _key_params(prefix: str, key: r.Key) -> dict[str, Any]:
    return {f"{prefix}k_{name}": value for name, value in zip(KEYS["report_days"], key, strict=True)}


def _side_params(prefix: str, row: Mapping[str, Any]) -> dict[str, Any]:
    known = {f"{prefix}{c}": row[c] for c in _KNOWN}
    known[f"{prefix}comment"] = None if row["comment"] is None else "1"  # only its presence counts
    return known


def _key_columns(prefix: str) -> list[Any]:
    day = bindparam(f"{prefix}k_day", type_=Date())
    return [day, *(bindparam(f"{prefix}k_{d}", type_=String()) for d in r.DIMENSIONS)]


@cache
def _days_change(dialect: str, sides: tuple[str, ...], same_key: bool, prefix: str = "r") -> Any:
    """report_days += the change of survey `{prefix}id`: `sides` are "old" and/or "new"; with `same_key` both land on
    one row (new − old), else each on its own (old subtracted, new added), in key order."""
    where = S.c.id == bindparam(f"{prefix}id")
    if same_key:
        new, old = day_counters(_bound(f"{prefix}n_")), day_counters(_bound(f"{prefix}o_"))
        counters = [(new[c] - old[c]).label(c) for c in r.DAY_COUNTERS]
        source = select(*_key_columns(f"{prefix}n_"), *counters).where(where)
    else:
        parts = []
        for side in sides:
            p, sign = f"{prefix}{side[0]}_", (1 if side == "new" else -1)
            counters = day_counters(_bound(p))
            parts.append(select(*_key_columns(p), *((sign * counters[c]).label(c) for c in r.DAY_COUNTERS)))
        source = parts[0].where(where) if len(parts) == 1 else parts[0].where(where).union_all(parts[1].where(where))
        if len(parts) > 1:
            sub = source.subquery()
            source = select(*sub.c).where(true()).order_by(*(sub.c[i] for i in range(len(KEYS["report_days"]))))
    stmt = _append("report_days", source)
    _SOURCES[id(stmt)] = source
    return stmt


def _append(table: str, source: Any) -> Any:
    """INSERT INTO <table>'s change log the change rows `source` selects (key, then counters)."""
    return LOGS[table].insert().from_select([*KEYS[table], *COUNTERS[table]], source)


# The statements plan() hands out that compute a change in SQL, by id: their SELECT, so a transaction that collects
# its changes can read it (statements of known values are in core/store/rollup_pending.py VALUES).
_SOURCES: dict[int, Any] = {}


Planned = tuple[Any, dict[str, Any]]


def plan(dialect: str, old: Survey | None, new: Survey, prefix: str = "r") -> list[Planned]:
    """The statements (with their parameters) that bring the rollups from `old` to `new`, in ORDER; none when
    nothing counted changed. `prefix` names their parameters."""
    before, after = (None if old is None else r.facts(old)), r.facts(new)
    out = _days_plan(dialect, before, after, new.id, prefix)
    undated = {**after, "asked_at": None}  # report_skips only
    skips = r.delta(None if before is None else {**before, "asked_at": None}, undated).get("report_skips", {})
    for i, (key, counts) in enumerate(sorted(skips.items())):
        p = f"{prefix}k{i}"
        params = {f"{p}_{c}": v for c, v in zip(KEYS["report_skips"], key, strict=True)}
        out.append((add_values(dialect, "report_skips", p), params | {f"{p}_surveys": counts["surveys"]}))
    return out


def _days_plan(
    dialect: str, before: Mapping[str, Any] | None, after: Mapping[str, Any], survey_id: int | None, prefix: str
) -> list[Planned]:
    old_key, new_key = (None if before is None else r.day_key(before)), r.day_key(after)
    if new_key is None and old_key is None:
        return []
    if before is None:  # a new row: its extras are all NULL, so its counts are known without reading it
        counts = r.day_counts(after)
        p = f"{prefix}d"
        params = {f"{p}_{c}": v for c, v in zip(KEYS["report_days"], new_key or (), strict=True)}
        return [(add_values(dialect, "report_days", p), params | {f"{p}_{c}": counts[c] for c in r.DAY_COUNTERS})]
    if r.day_inputs(before) == r.day_inputs(after):
        return []  # nothing report_days reads changed (the extras never do in such a write)
    sides = tuple(side for side, key in (("old", old_key), ("new", new_key)) if key is not None)
    same = old_key == new_key
    params: dict[str, Any] = {f"{prefix}id": survey_id}
    for side, row, key in (("old", before, old_key), ("new", after, new_key)):
        if key is None:
            continue
        if side == "new" or not same:
            params |= _key_params(f"{prefix}{side[0]}_", key)
        params |= _side_params(f"{prefix}{side[0]}_", row)
    return [(_days_change(dialect, sides, same, prefix), params)]


async def apply(conn: AsyncConnection, old: Survey | None, new: Survey) -> None:
    """Bring the rollups from `old` (None: a new row) to `new`, in the caller's transaction, after the write.
    Inside Store.transaction the change is computed now (a read, no lock) and written with the others at commit."""
    pending = pending_changes(conn)
    if pending is not None and old is not None and old.row_extras is not None:
        # The row was read in this transaction (locked where it matters): its extras are known, so the change is
        # worked out here without a statement.
        extras = old.row_extras
        change = r.delta(r.facts(old, extras), r.facts(new, extras))
        await add_change(conn, {t: change.get(t, {}) for t in ("report_days", "report_skips")})
        await add_change(conn, await followup_rollup.survey_change(conn, old, new))
        return
    for stmt, params in plan(conn.dialect.name, old, new):
        if pending is None:
            await conn.execute(stmt, params)
        elif id(stmt) in VALUES:
            table, p = VALUES[id(stmt)]
            key = tuple(params[f"{p}_{k}"] for k in KEYS[table])
            pending.add(table, key, {c: params[f"{p}_{c}"] for c in COUNTERS[table]})
        else:
            width = len(KEYS["report_days"])
            for row in (await conn.execute(_SOURCES[id(stmt)], params)).all():
                pending.add("report_days", tuple(row[:width]), dict(zip(r.DAY_COUNTERS, row[width:], strict=True)))
    await add_change(conn, await followup_rollup.survey_change(conn, old, new))
