"""A database_url that cannot be used is told in one line that names the URL (password masked) and the driver's own
reason, instead of a driver traceback a hundred lines long."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from core.store import Store

CONNECT_SECONDS = 15.0  # asyncpg waits 60 s for an unreachable host; an operator at a terminal should not


class DatabaseUnusable(Exception):
    """The one line to print; the driver's exception is its __cause__."""


def masked(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: config validation names it first, but never echo a secret
        return "(unparsable URL)"


def reason(exc: BaseException) -> str:
    """The driver's message without SQLAlchemy's wrapping: "unable to open database file", "[Errno 111] ..."."""
    if isinstance(exc, TimeoutError):
        return f"no answer in {CONNECT_SECONDS:g}s"
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return lines[0].strip() if lines and lines[0].strip() else type(cause).__name__


async def check_connection(store: Store, url: str, key: str = "database_url") -> None:
    """Raises DatabaseUnusable unless a connection opens and answers; `url` is what the operator wrote."""
    try:
        async with asyncio.timeout(CONNECT_SECONDS), store.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise DatabaseUnusable(f"{key}: cannot connect to {masked(url)}: {reason(exc)}") from exc


async def migrating(work: Awaitable[None], url: str, key: str = "database_url") -> None:
    """Runs a migration; the database refusing it (read-only file, missing rights) becomes DatabaseUnusable, while
    any other error keeps its traceback (a bug, not a setting)."""
    try:
        await work
    except (DBAPIError, OSError) as exc:
        raise DatabaseUnusable(f"{key}: cannot migrate {masked(url)}: {reason(exc)}") from exc
