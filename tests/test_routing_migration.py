"""Revision 0013 on SQLite and PostgreSQL: detractor alerts queued before it (pending, sending, dead) are read as the
new action (priority, tags and escalation at their defaults), sent ones stay history, and the downgrade takes the
new fields off again so the older version reads its rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from core.store import Store
from core.store import outbox as ob
from core.store.engine import alembic_config
from core.store.tables import OutboxRow
from core.types import DetractorAlert
from tests.test_migrations import OLD_ALERT, _downgrade, empty_url  # noqa: F401 - the fixture

OB = OutboxRow.__table__
ALERT_0012 = OLD_ALERT  # the detractor alert's fields as 0007 to 0012 store them


def _rows(now: datetime) -> list[dict]:
    def row(status: str, key: str, **extra: object) -> dict:
        return {
            "profile": "acme", "channel": "telegram", "kind": "detractor_alert", "survey_id": 3, "ordering_key": key,
            "target": {"conversation_id": "-100", "user_id": "", "thread": None, "locale": "en"},
            "payload": dict(ALERT_0012), "status": status, "attempts": 0, "next_attempt_at": now,
            "created_at": now - timedelta(minutes=5),
        } | extra  # fmt: skip

    return [row("pending", "a"), row("dead", "b", last_error="gave up"), row("sent", "c", ref="77")]


async def test_queued_alerts_gain_the_routing_fields_and_lose_them_on_downgrade(empty_url: str) -> None:  # noqa: F811
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    store = Store(empty_url)
    try:
        await store.migrate("0012")
        async with store.transaction() as conn:
            await conn.execute(insert(OB), _rows(now))
        await store.migrate()
        async with store.read() as conn:
            payloads = dict((await conn.execute(select(OB.c.ordering_key, OB.c.payload))).all())
        assert payloads["a"] == payloads["b"] == ALERT_0012 | {"priority": "normal", "tags": [], "escalation": None}
        assert payloads["c"] == ALERT_0012  # sent: history
        async with store.transaction() as conn:
            [item] = await ob.claim(conn, "w", now + timedelta(seconds=1), timedelta(seconds=30), 10)
        assert item.decode()[1] == DetractorAlert(**ALERT_0012)
        assert item.decode()[1].tags == () and item.decode()[1].escalation is None

        async with store.transaction() as conn:
            await conn.run_sync(_downgrade, alembic_config(store.url), "0012")
        async with store.read() as conn:
            back = [p for (p,) in (await conn.execute(select(OB.c.payload).order_by(OB.c.id))).all()]
            columns = await conn.run_sync(lambda sync: {c["name"] for c in sync.dialect.get_columns(sync, "surveys")})
            tables = await conn.run_sync(lambda sync: set(sync.dialect.get_table_names(sync)))
        assert back == [ALERT_0012] * 3
        assert not {"priority", "tags", "matched_rules"} & columns and "followup_slas" not in tables
    finally:
        await store.dispose()
