"""The reply path's statements sent to asyncpg directly: the same rows as through SQLAlchemy, in the caller's
transaction, and a failure raised as SQLAlchemy raises it (a dropped connection invalidated, so run_atomic reruns
the work on a fresh one)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from core.service import SurveyService
from core.store import Store, pg_direct, survey_lookup
from core.store.tables import InboundKeyRow, SurveyRow
from core.survey import ANSWERABLE_STATES
from core.types import Address, ConversationClosed
from tests.test_outbox_claim import drop_connections
from tests.test_service import settings

K = InboundKeyRow.__table__
S = SurveyRow.__table__
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADD_KEY = insert(K).values(key=bindparam("key"), received_at=bindparam("received_at"))
FIND = survey_lookup._find(tuple(sorted(str(s) for s in ANSWERABLE_STATES)), True, False, False)


async def open_surveys(store: Store, clock, count: int) -> SurveyService:
    service = SurveyService(store, settings(), clock)
    for i in range(count):
        await service.handle(ConversationClosed(Address("memory", "acme", f"c{i}", f"u{i}")))
    return service


def params(i: int) -> dict[str, object]:
    return survey_lookup._find_params(Address("memory", "acme", f"c{i}", f"u{i}"))


async def test_rows_are_those_sqlalchemy_reads(store: Store, clock) -> None:
    """The first run of a statement goes through SQLAlchemy (it learns the result's column types), the next ones
    do not: every one reads the same values, by the same names, as SQLAlchemy's rows."""
    await open_surveys(store, clock, 3)
    async with store.read() as conn:
        for i in (0, 1, 2, 0):
            expected = (await conn.execute(FIND, params(i))).all()
            rows = await pg_direct.fetch(conn, FIND, params(i))
            assert [tuple(r) for r in rows] == [tuple(r) for r in expected]
            assert [survey_lookup.to_survey(r) for r in rows] == [survey_lookup.to_survey(r) for r in expected]
            assert rows[0].conversation_id == f"c{i}"
        assert await pg_direct.fetch(conn, FIND, params(9)) == []


async def test_writes_belong_to_the_callers_transaction(store: Store) -> None:
    """The first statement of a transaction may be a direct one: it begins the transaction, so a rollback takes
    it back and a commit keeps it."""
    with pytest.raises(RuntimeError):
        async with store.transaction() as conn:
            await pg_direct.executemany(
                conn, ADD_KEY, [{"key": "a", "received_at": NOW}, {"key": "b", "received_at": NOW}]
            )
            raise RuntimeError("rolled back")
    async with store.transaction() as conn:
        await pg_direct.execute(conn, ADD_KEY, {"key": "c", "received_at": NOW})
    async with store.read() as conn:
        assert (await conn.execute(select(K.c.key))).scalars().all() == ["c"]


async def test_a_write_on_a_connection_without_a_transaction_is_committed_by_its_commit(store: Store) -> None:
    """As SQLAlchemy's own first statement does, a direct one begins the connection's transaction, so commit()
    commits it (and closing without one rolls it back)."""
    async with store.read() as conn:
        await pg_direct.execute(conn, ADD_KEY, {"key": "kept", "received_at": NOW})
        await conn.commit()
    async with store.read() as conn:
        await pg_direct.execute(conn, ADD_KEY, {"key": "dropped", "received_at": NOW})
    async with store.read() as conn:
        assert (await conn.execute(select(K.c.key))).scalars().all() == ["kept"]


async def test_a_constraint_violation_is_sqlalchemys_integrity_error(store: Store) -> None:
    async with store.transaction() as conn:
        await pg_direct.execute(conn, ADD_KEY, {"key": "k", "received_at": NOW})
    with pytest.raises(IntegrityError):
        async with store.transaction() as conn:
            await pg_direct.execute(conn, ADD_KEY, {"key": "k", "received_at": NOW})
    async with store.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(K))).scalar_one() == 1


@pytest.mark.postgres
async def test_a_dropped_connection_is_invalidated_and_the_work_rerun(pg_store: Store, clock, pg_url: str) -> None:
    """After a database restart the pooled connections are dead: the direct statement's failure invalidates them
    as SQLAlchemy's own would, so run_atomic runs the work again on a fresh connection."""
    await open_surveys(pg_store, clock, 1)
    async with pg_store.read() as conn:
        await pg_direct.fetch(conn, FIND, params(0))  # learned: the next run is direct
    await drop_connections(pg_url, pg_store.engine.url.database)
    with pytest.raises(DBAPIError) as failed:
        async with pg_store.transaction() as conn:
            await pg_direct.fetch(conn, FIND, params(0))
    assert failed.value.connection_invalidated
    async with pg_store.read() as conn:  # a fresh pooled connection, which the next restart drops
        await pg_direct.fetch(conn, FIND, params(0))
    await drop_connections(pg_url, pg_store.engine.url.database)
    runs: list[int] = []

    async def work(conn) -> list:
        runs.append(1)
        return await pg_direct.fetch(conn, FIND, params(0))

    rows = await pg_store.run_atomic(work)
    assert len(runs) == 2 and rows[0].user_id == "u0"
