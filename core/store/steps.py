"""Saving one step of a survey: its new state and the messages the step queues, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store import outbox as ob
from core.store import pg_direct, rollups
from core.store import surveys as q
from core.survey import Policy, Survey

OB = ob.OB


async def save_step(
    conn: AsyncConnection, old: Survey, new: Survey, policy: Policy, messages: list[ob.NewMessage], now: datetime
) -> None:
    """On PostgreSQL the UPDATE and the INSERT travel as one statement (the update as a data-modifying WITH,
    which PostgreSQL runs whether or not the INSERT reads it): one round trip less for every reply. Elsewhere, or
    when only one of the two has work, they are separate statements. The report rollups' change is read after it
    and written with the transaction's others at commit (core/store/rollups.py)."""
    changed = new != old
    if not (changed and messages and conn.dialect.name == "postgresql"):
        if changed:
            await q.update_survey(conn, old, new, policy)
        await ob.enqueue(conn, messages, now)
        return
    values = q.changed_values(old, new, policy)
    params = {f"s_{column}": value for column, value in values.items()} | {"s__id": new.id}
    rows = ob.rows_for(messages, now)
    for i, row in enumerate(rows):
        params |= {f"o{i}_{column}": value for column, value in row.items()}
    await pg_direct.execute(conn, _update_then_insert(tuple(sorted(values)), tuple(rows[0]), len(rows)), params)
    await rollups.apply(conn, old, new)


@cache
def _update_then_insert(columns: tuple[str, ...], outbox_columns: tuple[str, ...], rows: int) -> Any:
    """Each message is a single-row INSERT that selects FROM the one before it: a multi-row VALUES list is a
    statement SQLAlchemy cannot cache, and sibling WITH statements run in no set order, while the worker sends a
    conversation's messages in id order. Reading the previous row forces its insert, and its id, to come first."""
    changed = q.update_statement(columns, prefix="s_").cte("changed")

    def row(i: int) -> Any:
        return [bindparam(f"o{i}_{c}", type_=OB.c[c].type) for c in outbox_columns]

    stmt = insert(OB).values(dict(zip(outbox_columns, row(0), strict=True)))
    for i in range(1, rows):
        previous = stmt.returning(OB.c.id).cte(f"queued{i - 1}")
        stmt = insert(OB).from_select(list(outbox_columns), select(*row(i)).select_from(previous))
    return stmt.add_cte(changed)
