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
- `recounting(conn, where, tables)` around a write that changes many rows or columns a Survey does not hold
  (question statuses, follow-ups, skips, erasure, retention, theme rebuilds): the matching rows are read with one
  plain SELECT before the write (locking them on PostgreSQL) and one after it, and their change is worked out in
  Python as for one survey, with no statement built per call. `where` must select the same rows before and after
  the write. A long list of ids (a retention batch) is recounted instead with a grouped SELECT per table before and
  after, which the database sums faster than Python reads the rows.
- `rebuild(conn)` (and migration 0016): the three tables emptied and filled again by INSERT … SELECT … GROUP BY,
  their change logs emptied in the same transaction.

A campaign's pending surveys (no asked_at, not skipped) contribute nothing until they are asked, so bulk inserts of
them need no rollup statement. Rollup rows are written by a fold (in key order: two folds wait for each other
instead of deadlocking), a rebuild and, outside Store.transaction, a grouped recount. A counter taken back to zero
leaves its row in place (all zeros counts as nothing).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import Date, Integer, String, and_, bindparam, case, cast, delete, func, literal, select, text, true
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, ColumnClause, ColumnElement, Null

from core import rollups as r
from core.store import followup_rollup
from core.store.engine import BEFORE_COMMIT, Store
from core.store.inserts import dialect_insert
from core.store.rollup_log_tables import LOGS as _LOGS
from core.store.rollup_tables import REPORT_FOLLOWUPS, ReportDayRow, ReportSkipRow, ReportThemeDayRow
from core.store.tables import SurveyRow
from core.store.theme_tables import ResponseThemeRow
from core.survey import State, Survey

S = SurveyRow.__table__
T = ResponseThemeRow.__table__
EXTRAS = r.EXTRAS
DAYS, SKIPS, THEMES = ReportDayRow.__table__, ReportSkipRow.__table__, ReportThemeDayRow.__table__
TABLES = {"report_days": DAYS, "report_skips": SKIPS, "report_theme_days": THEMES}
TABLES["report_followups"] = REPORT_FOLLOWUPS  # completed detractors' follow-ups (core/store/followup_rollup.py)
ORDER = tuple(TABLES)  # every transaction touches the rollups in this order
KEYS = {
    "report_days": ("day", *r.DIMENSIONS),
    "report_skips": ("day", *r.DIMENSIONS, "reason"),
    "report_theme_days": ("day", *r.DIMENSIONS, "theme"),
    "report_followups": ("day", *r.DIMENSIONS, "claimed_by"),
}
COUNTERS = {"report_days": r.DAY_COUNTERS, "report_skips": ("surveys",), "report_theme_days": r.SCORES}
COUNTERS["report_followups"] = r.FOLLOWUP_COUNTERS
LOGS = {name: _LOGS[name] for name in TABLES}  # each rollup table's change log: what writes append to
_FLAG = Integer()


# ---- the rules in SQL (core/rollups.py says them in Python)


def utc_day(dialect: str, column: Any) -> ColumnElement[Any]:
    """The UTC date of a timestamp, as the rollups' `day` stores it."""
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _flag(condition: Any) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def day_counters(row: Mapping[str, Any]) -> dict[str, ColumnElement[int]]:
    """report_days' counters of one asked survey as SQL; `row` maps the columns read (score, category, comment,
    state and core.rollups.EXTRAS) to expressions: the row's columns, or bound values."""
    score, status, category = row["score"], row["question_status"], row["category"]
    answered = score.is_not(None)
    detractor = and_(category == "detractor", row["state"] == str(State.COMPLETED))
    resolved, claimed = row["resolved_at"].is_not(None), row["claimed_at"].is_not(None)
    commented = and_(row["comment"].is_not(None), category.is_not(None))
    return {
        "asked": literal(1, _FLAG),
        **{f"s{n}": _flag(score == n) for n in range(11)},
        "commented": _flag(commented),
        **{f"c_{c}": _flag(and_(commented, category == c)) for c in r.CATEGORIES},
        "q_sent": _flag(status.is_not(None) | row["question_ref"].is_not(None) | answered),
        "q_reached": _flag(status.in_(sorted(r.REACHED_STATUSES)) | answered),
        "q_failed": _flag(status == r.FAILED),
        "q_reported": _flag(status.in_(sorted(r.REPORTED_STATUSES))),
        "fu_open": _flag(and_(detractor, ~resolved, ~claimed)),
        "fu_claimed": _flag(and_(detractor, ~resolved, claimed)),
        "fu_resolved": _flag(and_(detractor, resolved)),
    }


def _dims(source: Any = S) -> list[ColumnElement[Any]]:
    return [func.coalesce(source.c[d], "") if source.c[d].nullable else source.c[d] for d in r.DIMENSIONS]


def _theme_dims() -> list[ColumnElement[Any]]:
    """A theme row's own copies of the dimensions it carries; the survey's for the rest (as the theme report)."""
    return [func.coalesce((T if d in T.c else S).c[d], "") for d in r.DIMENSIONS]


def _grouped(dialect: str, table: str, where: Sequence[Any], sign: int, *, ordered: bool = True) -> Any:
    """SELECT key, sign · SUM(counter) … GROUP BY key [ORDER BY key] over the surveys (and theme rows) in
    `where`."""
    if table == "report_days":
        keys = [utc_day(dialect, S.c.asked_at), *_dims()]
        counters = list(day_counters(S.c).values())
        source, cond = S, [S.c.asked_at.is_not(None)]
    elif table == "report_skips":
        keys = [utc_day(dialect, S.c.created_at), *_dims(), func.coalesce(S.c.skip_reason, r.UNKNOWN_REASON)]
        counters = [literal(1, _FLAG)]
        source, cond = S, [S.c.state == str(State.SKIPPED)]
    elif table == "report_followups":
        keys = [utc_day(dialect, S.c.asked_at), *_dims(), func.coalesce(S.c.claimed_by, "")]
        counters = list(followup_rollup.counters().values())
        source, cond = followup_rollup.SOURCE, followup_rollup.condition()
    else:
        keys = [utc_day(dialect, T.c.asked_at), *_theme_dims(), T.c.theme]
        counters = [_flag(S.c.score == n) for n in range(11)]
        source, cond = T.join(S, S.c.id == T.c.survey_id), [T.c.asked_at.is_not(None), S.c.score.is_not(None)]
    labelled = [k.label(name) for k, name in zip(keys, KEYS[table], strict=True)]
    sums = [(sign * func.sum(c)).label(name) for c, name in zip(counters, COUNTERS[table], strict=True)]
    q = select(*labelled, *sums).select_from(source).where(*cond, *where, true())
    q = q.group_by(*keys)
    return q.order_by(*keys) if ordered else q


def _upsert(dialect: str, table: str, source: Any) -> Any:
    """INSERT … `source` ON CONFLICT (key) DO UPDATE SET counter = counter + excluded.counter."""
    t = TABLES[table]
    columns = [*KEYS[table], *COUNTERS[table]]
    stmt = dialect_insert(dialect, t).from_select(columns, source)
    return stmt.on_conflict_do_update(
        index_elements=list(KEYS[table]), set_={c: t.c[c] + stmt.excluded[c] for c in COUNTERS[table]}
    )


# ---- a transaction's changes, written at its commit


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
                await conn.execute(_add_values(conn.dialect.name, table), params)
            self.rows[table].clear()


def _order(item: tuple[r.Key, Any]) -> tuple[str, ...]:
    return tuple("" if x is None else str(x) for x in item[0])


def _pending(conn: AsyncConnection) -> Pending | None:
    """The transaction's collector, registered as a before-commit hook; None outside Store.transaction (the change
    is then written at once)."""
    hooks = conn.info.get(BEFORE_COMMIT)
    if hooks is None:
        return None
    found = hooks.get("rollups")
    if found is None:
        found = hooks["rollups"] = Pending()
    return found


# ---- many rows: subtract before, add back after


async def recount(conn: AsyncConnection, where: Sequence[Any], tables: Sequence[str], sign: int) -> None:
    """Add (sign 1) or subtract (-1) the contributions of the surveys `where` selects, one grouped statement per
    table: read now and added to the transaction's pending changes, or upserted at once outside one."""
    pending = _pending(conn)
    for table in (t for t in ORDER if t in tables):
        grouped = _grouped(conn.dialect.name, table, where, sign)
        if pending is None:
            await conn.execute(_upsert(conn.dialect.name, table, grouped))
            continue
        width = len(KEYS[table])
        for row in (await conn.execute(grouped)).all():
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
READ_MORE[followup_rollup.TABLE] = (followup_rollup.SOURCE, followup_rollup._STORED)  # the follow-up and its SLA row
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
    chosen = [t for t in ORDER if t in tables]
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


@cache
def _add_values(dialect: str, table: str, prefix: str = "k") -> Any:
    """<table> += one row of bound counters (`{prefix}_<column>`), appended to its change log: no unique key there
    makes the INSERT wait for another transaction. Run with many parameter sets, one statement adds many rows."""
    log = LOGS[table]
    columns = (*KEYS[table], *COUNTERS[table])
    stmt = log.insert().values({c: bindparam(f"{prefix}_{c}", type_=log.c[c].type) for c in columns})
    _VALUES[id(stmt)] = (table, prefix)
    return stmt


# The statements plan() hands out, by id: a change computed in SQL (its SELECT) or one of known values (its table
# and parameter prefix), so a transaction that collects its changes can read the one and take the other as is.
_SOURCES: dict[int, Any] = {}
_VALUES: dict[int, tuple[str, str]] = {}


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
        out.append((_add_values(dialect, "report_skips", p), params | {f"{p}_surveys": counts["surveys"]}))
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
        return [(_add_values(dialect, "report_days", p), params | {f"{p}_{c}": counts[c] for c in r.DAY_COUNTERS})]
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
    pending = _pending(conn)
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
        elif id(stmt) in _VALUES:
            table, p = _VALUES[id(stmt)]
            key = tuple(params[f"{p}_{k}"] for k in KEYS[table])
            pending.add(table, key, {c: params[f"{p}_{c}"] for c in COUNTERS[table]})
        else:
            width = len(KEYS["report_days"])
            for row in (await conn.execute(_SOURCES[id(stmt)], params)).all():
                pending.add("report_days", tuple(row[:width]), dict(zip(r.DAY_COUNTERS, row[width:], strict=True)))
    await add_change(conn, await followup_rollup.survey_change(conn, old, new))


async def add_change(conn: AsyncConnection, change: r.Delta) -> None:
    """Add `change` (core.rollups.delta of rows as read and as written, worked out in Python) to the transaction's
    pending rollup changes, written at its commit; outside Store.transaction, appended to the change logs at once."""
    pending = _pending(conn)
    for table in ORDER:
        for key, counts in sorted(change.get(table, {}).items(), key=_order):
            if pending is not None:
                pending.add(table, key, counts)
                continue
            values = (*key, *(counts.get(c, 0) for c in COUNTERS[table]))
            names = (*KEYS[table], *COUNTERS[table])
            params = {f"k_{n}": v for n, v in zip(names, values, strict=True)}
            await conn.execute(_add_values(conn.dialect.name, table), params)


async def add_themes(conn: AsyncConnection, survey: Survey, themes: Sequence[str]) -> None:
    """Theme rows were just stored for a response: report_theme_days += one per theme, by its score."""
    rows = r.theme_keys(r.facts(survey), themes)
    pending = _pending(conn)
    if pending is not None:
        for key, counter in rows:
            pending.add("report_theme_days", tuple(key), {s: int(s == counter) for s in r.SCORES})
        return
    stmt = _add_values(conn.dialect.name, "report_theme_days", "t")
    for key, counter in rows:
        params = {f"t_{c}": v for c, v in zip(KEYS["report_theme_days"], key, strict=True)}
        await conn.execute(stmt, params | {f"t_{s}": int(s == counter) for s in r.SCORES})


# ---- rebuild


def rebuild_statements(dialect: str, tables: Sequence[str] = ORDER) -> list[Any]:
    """Empty the rollups (`tables` of them: a migration names those that exist at its revision) and count every
    survey into them again: set-based, one statement per table."""
    chosen = [t for t in ORDER if t in tables]
    out: list[Any] = []
    if dialect == "postgresql":
        # Writers wait for the rebuild instead of adding to rows it is about to replace; readers go on. The groups
        # are hashed in memory rather than sorted on disk.
        out.append(text(f"LOCK TABLE {', '.join(chosen)} IN EXCLUSIVE MODE"))
        out.append(text("SET LOCAL work_mem = '256MB'"))
    if "report_followups" in chosen:  # the durations it counts, stored with the surveys
        out.append(followup_rollup.fill_seconds(dialect))
    out += [delete(TABLES[t]) for t in chosen]
    # Emptied and locked: plain INSERTs, each group one row, no conflict to resolve and no order to keep.
    columns = {t: [*KEYS[t], *COUNTERS[t]] for t in chosen}
    out += [TABLES[t].insert().from_select(columns[t], _grouped(dialect, t, (), 1, ordered=False)) for t in chosen]
    return out


def _clear_logs(dialect: str) -> list[Any]:
    """The change logs emptied: what they held is in the raw rows the rebuild counts. On PostgreSQL locked first (a
    fold takes a log's lock before its rollup's): writers append after the rebuild commits, to the rows it made."""
    names = [LOGS[t].name for t in ORDER]
    lock = [text(f"LOCK TABLE {', '.join(names)} IN EXCLUSIVE MODE")] if dialect == "postgresql" else []
    return [*lock, *(delete(LOGS[t]) for t in ORDER)]


async def rebuild(conn: AsyncConnection) -> dict[str, int]:
    """Re-derive every rollup table from raw rows in the caller's transaction; rows written per table."""
    for stmt in [*_clear_logs(conn.dialect.name), *rebuild_statements(conn.dialect.name)]:
        await conn.execute(stmt)
    return {t: int((await conn.execute(select(func.count()).select_from(TABLES[t]))).scalar_one()) for t in ORDER}


async def rebuild_all(store: Store) -> dict[str, int]:
    """`rebuild` in a transaction of its own: the command's entry point."""
    async with store.transaction() as conn:
        return await rebuild(conn)
