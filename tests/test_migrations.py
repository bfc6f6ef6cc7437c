"""The Alembic history builds exactly the schema the models describe, on both backends."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, inspect, select

from core.channel import Delivery
from core.store import Store
from core.store import outbox as ob
from core.store.engine import alembic_config
from core.store.tables import OutboxRow, metadata
from core.types import AskComment, AskScore, DetractorAlert, EventNotice, MarkAnswered, Say
from tests.conftest import PG_ADMIN, _admin

OB = OutboxRow.__table__


def _models(sync: Any) -> list[Any]:
    """What the migrated schema lacks or has beyond the models; an index the models limit to other backends
    (info["dialects"], created under ddl_if) is not expected here."""
    here = sync.dialect.name

    def described(obj: Any, _name: str | None, _type: str, reflected: bool, _other: Any) -> bool:
        return reflected or here in obj.info.get("dialects", (here,))

    return compare_metadata(MigrationContext.configure(sync, opts={"include_object": described}), metadata)


async def test_migrated_schema_matches_the_models(store: Store) -> None:
    async with store.read() as conn:
        diff = await conn.run_sync(_models)
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
            diff = await conn.run_sync(_models)
        assert diff == []
    finally:
        await store.dispose()


OLD_ALERT = {
    "survey_id": 3, "score": 2, "comment": "slow", "customer": "Ana", "agent": "marta", "team": None,
    "profile": "acme", "channel": "telegram", "conversation_id": "5151", "link": None,
    "text": "Detractor (2/10) from Ana", "claim_label": "Claim", "resolve_label": "Resolved",
}  # fmt: skip
CUSTOMER = {"conversation_id": "5151", "user_id": "5151", "thread": None, "locale": "es"}
HOOK = "https://hooks.example/nps"


def _old_rows(now: datetime) -> list[dict]:
    """Rows as revision 0006 queued them: one of each old kind, in every state a row can be in."""

    def row(kind: str, target: dict, payload: dict, status: str = "pending", **extra: object) -> dict:
        base = {"profile": "acme", "channel": "telegram", "kind": kind, "survey_id": 3, "ordering_key": kind,
                "target": target, "payload": payload, "status": status, "attempts": 0, "next_attempt_at": now,
                "created_at": now - timedelta(minutes=5)}  # fmt: skip
        return base | extra

    completed = {"type": "survey.completed", "data": {"id": 3, "score": 2}}
    created = {"type": "detractor.created", "data": {"id": 3}}
    return [
        row("ask_score", CUSTOMER, {"text": "¿Qué probabilidad…?", "low_label": "Nada", "high_label": "Mucho"}),
        row("mark_answered", CUSTOMER, {"score": 2, "text": "Elegiste 2"}, "sending", lease_until=now, attempts=1),
        row("ask_comment", CUSTOMER, {"text": "¿Qué salió mal?", "category": "detractor", "add_comment_label": ""}),
        row("say", CUSTOMER, {"text": "¡Gracias!", "purpose": "thanks"}),
        row("alert_detractor", {**CUSTOMER, "user_id": "", "conversation_id": "-100"}, OLD_ALERT),
        row("event", {"url": HOOK}, completed, channel="events"),
        row("event", {"url": HOOK}, created, "dead", channel="events", ordering_key="gone", last_error="410 Gone"),
        row("alert_detractor", {"conversation_id": "-100"}, OLD_ALERT, "sent", ordering_key="sent", ref="77"),
    ]


async def test_rows_queued_in_the_old_shape_are_read_as_actions_after_upgrading(empty_url: str) -> None:
    """0007 rewrites rows not yet sent (kind = the action's tag, payload = its fields); sent rows stay history;
    the downgrade puts them back."""
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    store = Store(empty_url)
    try:
        await store.migrate("0006")
        async with store.transaction() as conn:
            for row in _old_rows(now):  # one by one: their columns differ
                await conn.execute(insert(OB).values(row))
        await store.migrate()
        async with store.transaction() as conn:
            items = await ob.claim(conn, "w", now + timedelta(seconds=1), timedelta(seconds=30), 50)
            dead = await ob.dead_letters(conn)
            sent = (await conn.execute(select(OB.c.kind, OB.c.payload).where(OB.c.status == "sent"))).one()
        actions = [item.decode()[1] for item in items]
        assert actions == [
            AskScore("¿Qué probabilidad…?", "Nada", "Mucho"),
            MarkAnswered(2, "Elegiste 2"),
            AskComment("¿Qué salió mal?", "detractor", ""),
            Say("¡Gracias!", "thanks"),
            DetractorAlert(**OLD_ALERT),
            EventNotice("survey.completed", {"id": 3, "score": 2}, "2026-03-02T08:55:00+00:00"),
        ]
        delivery = items[-1].decode()[0]
        assert (delivery.channel, delivery.conversation_id) == ("events", HOOK)  # the subscriber's URL
        assert items[0].decode()[0] == Delivery(items[0].id, "acme", "telegram", 3, "5151", "5151", None, "es", 1)
        assert [(d["kind"], d["last_error"]) for d in dead] == [("event_notice", "410 Gone")]
        assert tuple(sent) == ("alert_detractor", OLD_ALERT)

        async with store.transaction() as conn:
            await conn.run_sync(_downgrade, alembic_config(store.url), "0006")
        async with store.read() as conn:
            back = (await conn.execute(select(OB.c.kind, OB.c.target, OB.c.payload).order_by(OB.c.id))).all()
        old = [(r["kind"], r["target"], r["payload"]) for r in _old_rows(now)]
        assert [tuple(r) for r in back] == old
    finally:
        await store.dispose()
