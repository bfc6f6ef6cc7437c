"""The Alembic history builds exactly the schema the models describe, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core.store import Store
from core.store.tables import metadata


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
