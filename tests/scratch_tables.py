"""A small table of a test's own, for storage tests that need rows without the app's schema."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store import Store

R = TypeVar("R")
Unit = Callable[[AsyncConnection], Awaitable[R]]
BOUND = 10  # seconds; only keeps a broken test from hanging, never a timing assertion


def items_table() -> Table:
    return Table(
        f"items_{uuid.uuid4().hex[:8]}",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("k", String(40), nullable=False, unique=True),
        Column("v", Integer, nullable=False, default=0),
    )


async def stored_keys(store: Store, table: Table) -> list[str]:
    async with store.read() as conn:
        return list((await conn.execute(select(table.c.k).order_by(table.c.k))).scalars())
