"""Shared fixtures: a store on SQLite and on the local PostgreSQL, each run in its own fresh database."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import text

from bots.sandbox.graph_api import FakeGraph
from core.store import Store

PG_ADMIN = os.environ.get("NPSBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

# The inbound fuzz suite (tests/test_fuzz_*.py): a fixed, reproducible budget in CI; NPSBOT_FUZZ_EXAMPLES=2000 for a
# deep local run with fresh random examples each time.
FUZZ_EXAMPLES = int(os.environ.get("NPSBOT_FUZZ_EXAMPLES") or 0)
settings.register_profile(
    "npsbot-fuzz",
    max_examples=FUZZ_EXAMPLES or 100,
    deadline=None,
    derandomize=not FUZZ_EXAMPLES,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


class FakeClock:
    """A clock tests move by hand; surveys read time only through it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def run_sync(coro) -> object:
    """Run a coroutine to completion from sync code, even when called inside a running event loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _admin(sql: str) -> None:
    import asyncpg

    dsn = PG_ADMIN.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A database of our own for this test run, so parallel runs never see each other's rows."""
    name = f"npsbot_t_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        run_sync(_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}: {exc}")
    base = PG_ADMIN.rsplit("/", 1)[0]
    url = f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://")
    migrated = Store(url)
    run_sync(_migrate(migrated))
    yield url
    run_sync(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _migrate(store: Store) -> None:
    await store.migrate()
    await store.dispose()


TABLES = ("outbox", "inbound_keys", "surveys", "contacts", "dead_endpoints", "inbound_journal", "web_sessions")
TABLES += ("response_themes",)  # refers to surveys, so truncated with it
TABLES += ("installations", "install_states")
TABLES += ("chores",)  # the retention pass's schedule and progress
TABLES += ("followup_slas",)  # refers to surveys too
TABLES += ("suppressions", "audit_log", "privacy_keys")
TABLES += ("report_days", "report_skips", "report_theme_days")
TABLES += ("report_days_log", "report_skips_log", "report_theme_days_log")  # the rollups' change logs
TABLES += ("report_followups", "report_followups_log")  # completed detractors' follow-ups, and its change log
TABLES += ("report_followup_months", "report_followup_months_log")  # the same per month, and its change log


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to head per run; each test starts from a copy instead of running every migration
    again (tests/test_migrations.py runs the history itself)."""
    path = tmp_path_factory.mktemp("template") / "npsbot.db"
    run_sync(_migrate(Store(f"sqlite+aiosqlite:///{path}")))
    return path


async def make_store(kind: str, request: pytest.FixtureRequest, tmp_path) -> Store:
    if kind == "sqlite":
        path = tmp_path / "npsbot.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return Store(f"sqlite+aiosqlite:///{path}")
    url = request.getfixturevalue("pg_url")
    store = Store(url)
    async with store.transaction() as conn:
        await empty_tables(conn)
    return store


async def empty_tables(conn) -> None:
    """What `TRUNCATE TABLES RESTART IDENTITY` does, about three times cheaper on tables holding one test's few
    rows (TRUNCATE makes new files for every table and index): DELETE each, with foreign keys' triggers off for the
    transaction so the order does not matter, then every used sequence back to its start."""
    await conn.execute(text("SET LOCAL session_replication_role = replica"))
    for table in TABLES:
        await conn.execute(text(f"DELETE FROM {table}"))
    await conn.execute(
        text(
            "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false)"
            " FROM pg_sequences WHERE last_value IS NOT NULL"
        )
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Store]:
    """The same test on both backends."""
    s = await make_store(request.param, request, tmp_path)
    yield s
    await s.dispose()


@pytest.fixture
async def pg_store(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Store]:
    """PostgreSQL only, for what SQLite does not offer (several workers claiming with SKIP LOCKED)."""
    s = await make_store("postgres", request, tmp_path)
    yield s
    await s.dispose()


@pytest.fixture
async def sqlite_store(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Store]:
    s = await make_store("sqlite", request, tmp_path)
    yield s
    await s.dispose()


@pytest.fixture
async def fake_graph() -> AsyncIterator[FakeGraph]:
    """The sandbox's Graph API on a local port, which the Meta channels' tests send to."""
    graph = await FakeGraph().start()
    yield graph
    await graph.close()
