"""The outbox claim reads only the messages still to send and keeps its guarantees (oldest first, one
conversation's messages in order, expired leases taken over, no message claimed twice by concurrent claimers);
the worker records a batch's sends in groups and loses none of them when a send or the database fails mid-batch."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

import asyncpg
from sqlalchemy import event, select, update

from adapters.memory import MemoryChannel
from bots.worker import Worker, WorkerSettings
from core.channel import Delivery
from core.delivery import PermanentFailure
from core.retention import Pruning
from core.retention_pass import RetentionPass
from core.store import Store, survey_lookup
from core.store import outbox as ob
from core.store.kept_connection import KeptConnection
from core.store.tables import OutboxRow, SurveyRow
from core.types import Address, Say
from tests.test_worker import Scripted, outbox_rows, service_for

OUT, SUR = OutboxRow.__table__, SurveyRow.__table__
LEASE = timedelta(seconds=30)
# Outbox rows generated in SQL (generate_series as g), two per conversation, before their status and times.
VALUES = "'acme', 'memory', 'say', NULL, 'memory:acme:c' || (g / 2), '{}', '{}'"
COLUMNS = "profile, channel, kind, survey_id, ordering_key, target, payload, status, attempts, next_attempt_at"


async def drop_connections(pg_url: str, database: str | None) -> None:
    """Terminate every connection to `database` but this one: what a database restart does to a worker's."""
    con = await asyncpg.connect(pg_url.replace("+asyncpg", ""))
    try:
        await con.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await con.close()


def message(conversation: str, text: str) -> ob.NewMessage:
    target = {"conversation_id": conversation, "user_id": conversation}
    return ob.NewMessage("acme", "memory", f"memory:acme:{conversation}", target, Say(text, "thanks"))


async def queue(store: Store, clock, *messages: ob.NewMessage) -> None:
    async with store.transaction() as conn:
        for m in messages:  # one INSERT each: ids follow the order written
            await ob.enqueue(conn, [m], clock())


async def claim(store: Store, worker: str, now, limit: int = 10) -> list[ob.OutboxItem]:
    async with store.transaction() as conn:
        return await ob.claim(conn, worker, now, LEASE, limit)


def texts(items: list[ob.OutboxItem]) -> list[str]:
    return [i.payload["text"] for i in items]


async def test_only_the_head_of_each_conversation_is_claimed_oldest_first(store: Store, clock) -> None:
    await queue(store, clock, message("a", "a1"), message("b", "b1"), message("a", "a2"), message("c", "c1"))
    await queue(store, clock, message("b", "b2"), message("a", "a3"))
    first = await claim(store, "w", clock())
    assert texts(first) == ["a1", "b1", "c1"]  # a2, b2, a3 wait behind a message of their conversation
    assert await claim(store, "w", clock()) == []  # the heads are leased: nothing behind them may overtake
    async with store.transaction() as conn:
        assert await ob.mark_sent_all(conn, [(first[0].id, "r-a1"), (first[2].id, None)], "w", clock()) == {
            first[0].id,
            first[2].id,
        }
    assert texts(await claim(store, "w", clock())) == ["a2"]  # b1 still being sent holds b2 back
    async with store.transaction() as conn:
        await ob.mark_retry(conn, first[1].id, "w", clock() + timedelta(seconds=5), "later")
    assert await claim(store, "w", clock()) == []  # b1 waits for its retry, and b2 behind it
    clock.advance(seconds=6)
    assert texts(await claim(store, "w", clock())) == ["b1"]
    rows = {r.id: r for r in await outbox_rows(store)}
    assert rows[first[0].id].ref == "r-a1" and rows[first[0].id].status == "sent" and rows[first[2].id].ref is None


async def test_an_expired_lease_is_taken_over_and_the_first_worker_loses_its_outcome(store: Store, clock) -> None:
    await queue(store, clock, message("a", "a1"), message("a", "a2"))
    [mine] = await claim(store, "w1", clock())
    assert await claim(store, "w2", clock() + LEASE - timedelta(seconds=1)) == []
    [theirs] = await claim(store, "w2", clock() + LEASE + timedelta(seconds=1))
    assert theirs.id == mine.id and theirs.attempts == 2
    async with store.transaction() as conn:
        assert await ob.mark_sent_all(conn, [(mine.id, "late")], "w1", clock()) == set()
        assert await ob.mark_sent_all(conn, [(theirs.id, "ok")], "w2", clock()) == {theirs.id}
    assert texts(await claim(store, "w1", clock() + LEASE + timedelta(seconds=2))) == ["a2"]


async def test_the_claim_plan_reads_the_partial_indexes_even_as_a_generic_plan(store: Store, clock) -> None:
    """The predicate is written as literals: a bound value would keep SQLite, and PostgreSQL's generic plans
    (used for a prepared statement after five runs), from matching the partial indexes."""
    async with store.transaction() as conn:
        compiled = ob._claim(False).compile(dialect=conn.dialect)
        if store.is_sqlite:
            args = tuple(compiled.construct_params(_params(clock))[k] for k in compiled.positiontup)
            args = tuple(a.strftime("%Y-%m-%d %H:%M:%S.%f") if hasattr(a, "strftime") else a for a in args)
            plan = " | ".join(str(r[-1]) for r in await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", args))
        else:
            raw = (await conn.get_raw_connection()).driver_connection
            await raw.execute(f"PREPARE claim_plan AS {compiled}")
            await raw.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            await raw.execute("SET LOCAL enable_seqscan = off")  # a tiny table: only whether the index can serve
            values = compiled.construct_params(_params(clock))
            args = ", ".join(_literal(values[k]) for k in compiled.positiontup)
            plan = " | ".join(r[0] for r in await raw.fetch(f"EXPLAIN EXECUTE claim_plan({args})"))
            await raw.execute("DEALLOCATE claim_plan")
    # The window reads rows still to send by status (never a delivered one), the head test probes the partial index.
    assert "ix_outbox_waiting_order" in plan and "ix_outbox_ready" not in plan, plan
    if store.is_sqlite:
        assert "(status=?)" in plan and "SCAN" not in plan, plan
    else:
        assert "Seq Scan on outbox" not in plan, plan


def _literal(value: object) -> str:
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'::timestamptz"
    return str(value) if isinstance(value, int) else f"'{value}'"


def _params(clock) -> dict:
    return {"b_now": clock(), "b_lease_until": clock() + LEASE, "b_worker": "w", "b_limit": 10, "b_window": 40}


async def test_two_claimers_at_once_never_share_a_message_and_keep_conversations_in_order(pg_store: Store, clock):
    await queue(pg_store, clock, *(message(f"c{i % 40}", f"{i}") for i in range(400)))
    others = [Store(pg_store.url) for _ in range(2)]  # separate pools, as separate processes
    claimed: Counter[int] = Counter()
    order: dict[str, list[int]] = {}

    async def claimer(store: Store, name: str) -> None:
        while True:
            async with store.transaction() as conn:
                items = await ob.claim(conn, name, clock(), LEASE, 7)
            if not items:
                return
            for item in items:
                claimed[item.id] += 1
                order.setdefault(item.target["conversation_id"], []).append(item.id)
            await asyncio.sleep(0)
            async with store.transaction() as conn:
                await ob.mark_sent_all(conn, [(i.id, None) for i in items], name, clock())

    try:
        await asyncio.gather(*(claimer(s, f"w{i}") for i, s in enumerate(others)))
    finally:
        for s in others:
            await s.dispose()
    assert len(claimed) == 400 and set(claimed.values()) == {1}
    assert all(ids == sorted(ids) and len(ids) == 10 for ids in order.values())


async def test_a_batch_with_failures_and_a_dropped_database_connection_records_every_outcome(
    pg_store: Store, clock, pg_url
) -> None:
    """Mid-batch one send fails for now, one for good, and the database drops every connection of the worker (as
    a restart would): the sends already made are recorded (their connection is replaced), none is lost."""
    service = service_for(pg_store, clock)
    chat = MemoryChannel(service, "acme")
    for i in range(12):
        await chat.close(f"c{i}", f"u{i}")
    database = pg_store.engine.url.database

    class Failing(Scripted):
        async def send(self, delivery: Delivery) -> str | None:
            self.calls.append(delivery)
            n = len(self.calls)
            if n == 4:
                raise ConnectionResetError("reset")
            if n == 5:
                raise PermanentFailure("refused")
            if n == 6:  # everything this database has open goes, the worker's pooled connections too
                await drop_connections(pg_url, database)
            return f"ref-{delivery.id}"

    sender = Failing()
    worker = Worker(service, {("memory", "acme"): sender}, WorkerSettings(batch=20, concurrency=2), "w")
    assert await worker.run_once() == 12
    rows = await outbox_rows(pg_store)
    by_status = Counter(r.status for r in rows)
    assert by_status == {"sent": 10, "pending": 1, "dead": 1}
    assert all(r.ref == f"ref-{r.id}" for r in rows if r.status == "sent")
    async with pg_store.read() as conn:
        asked = (await conn.execute(select(SUR.c.question_ref, SUR.c.question_status))).all()
    sent_refs = {r.ref for r in rows if r.status == "sent"}
    assert sum(1 for ref, status in asked if ref in sent_refs and status == "sent") == 10


async def test_pruning_delivered_rows_keeps_what_a_reply_to_an_open_survey_is_matched_by(store: Store, clock) -> None:
    """A reply hanging under a message we sent finds its survey through that message's outbox row: delivered rows
    of a survey still answerable are kept however old; once it has ended they go."""
    service = service_for(store, clock)
    await MemoryChannel(service, "acme").close("room", "u1")
    worker = Worker(service, {("memory", "acme"): Scripted("question-ref")}, WorkerSettings(), "w")
    assert await worker.run_once() == 1
    clock.advance(days=2)
    prune = RetentionPass(store, service.profiles, Pruning(sent_messages=timedelta(hours=1)), clock)
    reply = Address("memory", "acme", "room", "u1", thread="question-ref")

    async def matched() -> int | None:
        async with store.read() as conn:
            survey = await survey_lookup.find_survey(conn, reply, lock=False, reply_to="question-ref")
        return None if survey is None else survey.id

    assert (await prune.run_due(force=True) or {}).get("sent_messages") == 0
    survey_id = await matched()
    assert survey_id is not None and [r.status for r in await outbox_rows(store)] == ["sent"]
    async with store.transaction() as conn:  # the survey ends (it expired unanswered)
        await conn.execute(update(SUR).where(SUR.c.id == survey_id).values(state="expired", next_check_at=None))
    assert (await prune.run_due(force=True) or {}).get("sent_messages") == 1
    assert await outbox_rows(store) == [] and await matched() is None


async def test_the_head_test_reads_the_conversation_index_after_statistics_taken_while_nothing_waited(
    pg_store: Store, clock
) -> None:
    """Statistics taken while every row was delivered make both partial indexes look empty: the head test once
    walked the id index from the oldest waiting row for each row it tested (some 200k buffers for a claim of 200
    out of 10,000). It probes the conversation's index (a few buffers a row), as a custom and as a generic plan."""
    async with pg_store.transaction() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        at = clock() - timedelta(days=1)
        await raw.execute(
            f"INSERT INTO outbox ({COLUMNS}, created_at, sent_at) "
            f"SELECT {VALUES}, 'sent', 1, $1, $1, $1 FROM generate_series(100000, 119999) g",
            at,
        )
    async with pg_store.engine.connect() as conn:  # ANALYZE outside a transaction block
        await (await conn.get_raw_connection()).driver_connection.execute("ANALYZE outbox")
    async with pg_store.transaction() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.execute(
            f"INSERT INTO outbox ({COLUMNS}, created_at) SELECT {VALUES}, 'pending', 0, $1, $1 "
            "FROM generate_series(1, 4000) g",
            clock(),
        )
    for generic in (False, True):
        async with pg_store.transaction() as conn:
            compiled = ob._claim(False).compile(dialect=conn.dialect)
            raw = (await conn.get_raw_connection()).driver_connection
            if generic:
                await raw.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            values_ = compiled.construct_params(_params(clock) | {"b_limit": 100, "b_window": 400})
            explain = await raw.prepare(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {compiled}")
            plan = await explain.fetchval(*(values_[k] for k in compiled.positiontup))
            await conn.rollback()  # EXPLAIN ANALYZE leased the rows
        plan = json.loads(plan) if isinstance(plan, str) else plan
        assert plan[0]["Plan"]["Actual Rows"] == 100, plan
        [head] = [n for n in _nodes(plan[0]["Plan"]) if n.get("Alias") == "head"]
        assert head["Index Name"] == "ix_outbox_waiting_order", head
        # The id index's walk read tens of buffers a row here (thousands at 10,000 waiting); a probe reads a few,
        # a few more where the first plan's leases, rolled back, left row versions to step over and check.
        assert head["Shared Hit Blocks"] + head["Shared Read Blocks"] <= 12 * head["Actual Loops"], head


def _nodes(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("Plans", ()):
        yield from _nodes(child)


async def _waiting_rows(store: Store, clock, n: int) -> None:
    """`n` pending rows, two per conversation, inserted in one statement and never analysed."""
    async with store.transaction() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.execute(
            f"INSERT INTO outbox ({COLUMNS}, created_at) SELECT {VALUES}, 'pending', 0, $1, $1 "
            f"FROM generate_series(1, {n}) g",
            clock(),
        )


async def test_the_claim_walks_the_queue_in_id_order_however_few_rows_the_statistics_expect(
    pg_store: Store, clock
) -> None:
    """Never analysed, the outbox looks nearly empty to PostgreSQL, which then read every waiting row as a bitmap
    and sorted them, for each claim: its cost grew with the queue. In the claim's transaction (ob.claim sets
    ORDERED_WALK) the window walks the id index and stops at 4 x limit rows, whatever waits behind them."""
    await _waiting_rows(pg_store, clock, 20_000)
    async with pg_store.transaction() as conn:
        assert len(await ob.claim(conn, "w0", clock(), LEASE, 1)) == 1
        assert (await conn.exec_driver_sql("SHOW enable_bitmapscan")).scalar() == "off"
        await conn.rollback()
    async with pg_store.transaction() as conn:
        assert (await conn.exec_driver_sql("SHOW enable_bitmapscan")).scalar() == "on"  # LOCAL: the claim's only
    for generic in (False, True):
        async with pg_store.transaction() as conn:
            await ob.plan_without(conn, ob.ORDERED_WALK)
            raw = (await conn.get_raw_connection()).driver_connection
            if generic:
                await raw.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            compiled = ob._claim(False).compile(dialect=conn.dialect)
            values_ = compiled.construct_params(_params(clock) | {"b_limit": 100, "b_window": 400})
            explain = await raw.prepare(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {compiled}")
            plan = await explain.fetchval(*(values_[k] for k in compiled.positiontup))
            await conn.rollback()
        plan = json.loads(plan) if isinstance(plan, str) else plan
        nodes = list(_nodes(plan[0]["Plan"]))
        assert plan[0]["Plan"]["Actual Rows"] == 100, plan
        assert not [n for n in nodes if n["Node Type"].startswith("Bitmap")], plan
        [window] = [n for n in nodes if n.get("Alias") == "win"]
        [walk] = [n for n in nodes if n.get("Alias") == "cand"]
        assert window["Index Name"] == walk["Index Name"] == "ix_outbox_waiting", plan
        assert window["Actual Rows"] <= 400 and walk["Actual Rows"] <= 100, plan  # not the 20,000 waiting


async def test_recording_sends_reads_only_the_group_s_rows_whatever_the_statistics_say(pg_store: Store, clock) -> None:
    """A group of sends is recorded by looking its rows up by id, on the connection the worker keeps for it and in
    a transaction, as a generic plan on a never-analysed outbox. Left to the statistics, the plan read every leased
    row (all 'sending' row versions through ix_outbox_done, dead ones included) or the whole table, per group."""
    await _waiting_rows(pg_store, clock, 4_000)
    items = await claim(pg_store, "w", clock(), limit=400)
    assert len(items) == 400
    group = [(i.id, f"ref-{i.id}") for i in items[:4]]
    kept = KeptConnection(pg_store, ob.LOOKUP_BY_ID)
    kept.keeping = True

    async def explain(driver) -> dict:
        async with driver.transaction():  # rolled back: EXPLAIN ANALYZE writes
            await driver.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            statement = await driver.prepare(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {ob._MARK_SENT_PG}")
            plan = await statement.fetchval([i for i, _ in group], [r for _, r in group], clock(), "w")
            raise _RollBack(plan)

    class _RollBack(Exception):
        pass

    async def explained(driver) -> dict:
        try:
            await explain(driver)
        except _RollBack as done:
            plan = done.args[0]
            return json.loads(plan) if isinstance(plan, str) else plan
        raise AssertionError("unreachable")

    plans = [await kept.run(explained)]
    seen: list[tuple[str, tuple]] = []  # the SQLAlchemy statement, as record_sent runs it

    def grab(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append((statement, parameters))

    event.listen(pg_store.engine.sync_engine, "before_cursor_execute", grab)
    try:
        async with pg_store.transaction() as conn:
            assert await ob.mark_sent_all(conn, group, "w", clock()) == {i for i, _ in group}
            await conn.rollback()
    finally:
        event.remove(pg_store.engine.sync_engine, "before_cursor_execute", grab)
    [(sql, args)] = [(q, a) for q, a in seen if q.startswith("UPDATE")]
    async with pg_store.transaction() as conn:
        await ob.plan_without(conn, ob.LOOKUP_BY_ID)
        await conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        raw = (await conn.get_raw_connection()).driver_connection
        plan = await (await raw.prepare(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")).fetchval(*args)
        plans.append(json.loads(plan) if isinstance(plan, str) else plan)
        await conn.rollback()
    for plan in plans:
        nodes = list(_nodes(plan[0]["Plan"]))
        assert plan[0]["Plan"]["Actual Rows"] == 4, plan
        scans = [n for n in nodes if n.get("Relation Name") == "outbox" and "Scan" in n["Node Type"]]
        assert scans and all(n.get("Index Name") == "outbox_pkey" for n in scans), plan
        assert all(n["Actual Rows"] <= 3 * 4 for n in scans), plan  # the group's row versions, not the 400 leased
    assert await kept.run(lambda driver: ob.mark_sent_driver(driver, group, "w", clock())) == {i for i, _ in group}
    async with pg_store.engine.connect() as conn:  # the settings went with the kept connection
        await kept.close()
        assert (await conn.exec_driver_sql("SHOW enable_seqscan")).scalar() == "on"
    rows = {r.id: r for r in await outbox_rows(pg_store)}
    assert all(rows[i].ref == ref and rows[i].status == "sent" for i, ref in group)
