"""The Alembic history builds exactly the schema the models describe, on both backends."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from core.store import Store
from core.store.engine import alembic_config
from core.store.tables import metadata
from tests.conftest import PG_ADMIN, _admin


async def test_migrated_schema_matches_the_models(store: Store) -> None:
    async with store.read() as conn:
        diff = await conn.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync), metadata))
    assert diff == []


async def test_survey_ids_are_64_bit(store: Store) -> None:
    async with store.read() as conn:
        types = await conn.run_sync(
            lambda sync: {
                (table, col["name"]): str(col["type"])
                for table in ("surveys", "outbox")
                for col in sync.dialect.get_columns(sync, table)
            }
        )
    wide = "INTEGER" if store.is_sqlite else "BIGINT"  # SQLite's INTEGER is already 64-bit
    assert types[("surveys", "id")] == wide
    assert types[("outbox", "survey_id")] == "BIGINT"


def _downgrade(sync, cfg, revision: str) -> None:
    from alembic import command

    cfg.attributes["connection"] = sync
    command.downgrade(cfg, revision)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_url(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:
    """A database with no schema at all, so the whole history runs."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    request.getfixturevalue("pg_url")  # skips when PostgreSQL is unreachable
    name = f"npsbot_m_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}".replace("postgresql://", "postgresql+asyncpg://")
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_every_migration_upgrades_and_downgrades(empty_url: str) -> None:
    store = Store(empty_url)
    try:
        await store.migrate()
        async with store.transaction() as conn:
            await conn.run_sync(_downgrade, alembic_config(store.url), "base")
        async with store.read() as conn:
            left = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert left <= {"alembic_version"}
        await store.migrate()
        async with store.read() as conn:
            diff = await conn.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync), metadata))
        assert diff == []
    finally:
        await store.dispose()
