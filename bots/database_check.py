"""A database_url that cannot be used is told in one line that names the URL (password masked) and the driver's own
reason, instead of a driver traceback a hundred lines long."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from pathlib import Path

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


def sqlite_file_problem(url: str) -> str | None:
    """Why SQLite could not open or write the file (and the -wal file it keeps beside it), said in terms of the
    path; SQLite itself only ever says "unable to open database file"."""
    database = make_url(url).database
    if make_url(url).get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):  # a URI filename: SQLite parses it
        return None
    path = Path(database).absolute()
    folder = path.parent
    if path.is_dir():
        return f"{path} is a folder"
    if not folder.exists():
        return f"folder {folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return f"no permission to read and write {path}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"no permission to write in {folder} (SQLite keeps its -wal file beside the database)"
    return None


async def check_connection(store: Store, url: str, key: str = "database_url") -> None:
    """Raises DatabaseUnusable unless a connection opens and answers; `url` is what the operator wrote."""
    if problem := sqlite_file_problem(url):
        raise DatabaseUnusable(f"{key}: cannot open {masked(url)}: {problem}")
    try:
        async with asyncio.timeout(CONNECT_SECONDS):
            await store.ping()
    except Exception as exc:
        raise DatabaseUnusable(f"{key}: cannot connect to {masked(url)}: {reason(exc)}") from exc


async def migrating(work: Awaitable[None], url: str, key: str = "database_url") -> None:
    """Runs a migration; the database refusing it (read-only file, missing rights) becomes DatabaseUnusable, while
    any other error keeps its traceback (a bug, not a setting)."""
    try:
        await work
    except (DBAPIError, OSError) as exc:
        raise DatabaseUnusable(f"{key}: cannot migrate {masked(url)}: {reason(exc)}") from exc
