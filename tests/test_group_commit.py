"""Group commit in `Store.run_in_transaction`: units share transactions, yet each keeps its own outcome."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.store import Store
from tests.scratch_tables import BOUND, Unit, items_table, stored_keys


@pytest.fixture
async def items(store: Store) -> AsyncIterator[Table]:
    """A small table of the test's own, on the backend under test."""
    table = items_table()
    async with store.engine.begin() as conn:
        await conn.run_sync(table.metadata.create_all)
    yield table
    async with store.engine.begin() as conn:
        await conn.run_sync(table.metadata.drop_all)


async def test_concurrent_units_all_commit_with_their_own_results(store: Store, items: Table) -> None:
    """Units batched into one transaction must each still get back exactly what they returned."""

    def unit(i: int) -> Unit[tuple[int, int]]:
        async def work(conn: AsyncConnection) -> tuple[int, int]:
            new_id = (await conn.execute(insert(items).values(k=f"u{i:02}", v=i).returning(items.c.id))).scalar_one()
            return i, new_id

        return work

    results = await asyncio.wait_for(asyncio.gather(*(store.run_in_transaction(unit(i)) for i in range(50))), BOUND)
    assert [i for i, _ in results] == list(range(50))
    async with store.read() as conn:
        stored = {row.id: row.v for row in await conn.execute(select(items.c.id, items.c.v))}
    assert {new_id: i for i, new_id in results} == stored


async def test_concurrent_units_share_transactions(store: Store, items: Table) -> None:
    """Group commit is the point: units arriving together must not each pay for their own transaction."""
    seen: list[AsyncConnection] = []  # kept alive so that distinct connections have distinct identities

    async def work(conn: AsyncConnection) -> int | None:
        seen.append(conn)
        if store.is_sqlite:
            return None
        return (await conn.exec_driver_sql("select txid_current()")).scalar_one()

    n = 30
    txids = await asyncio.wait_for(asyncio.gather(*(store.run_in_transaction(work) for _ in range(n))), BOUND)
    assert len(seen) == n
    assert len({id(c) for c in seen}) < n
    if not store.is_sqlite:
        counts = Counter(txids)
        assert len(counts) < n
        assert max(counts.values()) >= 2


async def test_failing_unit_fails_alone(store: Store, items: Table) -> None:
    """A unit that raises takes its group's transaction down; the others must be rerun, not failed."""

    def unit(i: int) -> Unit[int]:
        async def work(conn: AsyncConnection) -> int:
            await conn.execute(insert(items).values(k=f"u{i:02}", v=i))
            if i == 5:
                raise ValueError("unit 5 refuses")
            return i

        return work

    outcomes = await asyncio.wait_for(
        asyncio.gather(*(store.run_in_transaction(unit(i)) for i in range(12)), return_exceptions=True), BOUND
    )
    assert isinstance(outcomes[5], ValueError)
    assert [o for i, o in enumerate(outcomes) if i != 5] == [i for i in range(12) if i != 5]
    assert await stored_keys(store, items) == [f"u{i:02}" for i in range(12) if i != 5]


async def test_unique_violation_in_a_group_hits_only_its_unit(store: Store, items: Table) -> None:
    """On PostgreSQL a failed statement poisons the whole transaction, so the group must be rerun unit by unit."""
    async with store.transaction() as conn:
        await conn.execute(insert(items).values(k="taken"))

    def unit(key: str) -> Unit[str]:
        async def work(conn: AsyncConnection) -> str:
            await conn.execute(insert(items).values(k=key))
            return key

        return work

    keys = ["a", "b", "taken", "c", "d"]
    outcomes = await asyncio.wait_for(
        asyncio.gather(*(store.run_in_transaction(unit(k)) for k in keys), return_exceptions=True), BOUND
    )
    assert isinstance(outcomes[2], IntegrityError)
    assert [o for o in outcomes if not isinstance(o, Exception)] == ["a", "b", "c", "d"]
    assert await stored_keys(store, items) == ["a", "b", "c", "d", "taken"]


async def _occupy_committers(store: Store, release: asyncio.Event) -> list[asyncio.Task[str]]:
    """Start one blocking unit per committer, each in a group of its own, so later units stay pending."""
    blockers: list[asyncio.Task[str]] = []
    for n in range(store.max_committers):
        started = asyncio.Event()

        async def block(conn: AsyncConnection, started: asyncio.Event = started, n: int = n) -> str:
            started.set()
            await release.wait()
            return f"blocker{n}"

        blockers.append(asyncio.create_task(store.run_in_transaction(block)))
        await asyncio.wait_for(started.wait(), BOUND)
    return blockers


@pytest.mark.parametrize("cancelled_unit_fails", [False, True])
async def test_cancelled_caller_does_not_stall_its_group(
    store: Store, items: Table, cancelled_unit_fails: bool
) -> None:
    """A caller that goes away (a cancelled request) leaves an already-done future; settling the group must
    step over it, whether its unit succeeded or failed."""
    release = asyncio.Event()
    blockers = await _occupy_committers(store, release)

    def unit(key: str) -> Unit[str]:
        async def work(conn: AsyncConnection) -> str:
            await conn.execute(insert(items).values(k=key))
            if cancelled_unit_fails and key == "gone":
                raise ValueError("the cancelled unit fails too")
            return key

        return work

    waiting = {key: asyncio.create_task(store.run_in_transaction(unit(key))) for key in ("first", "gone", "last")}
    await asyncio.sleep(0)  # let each task hand its unit over and start waiting
    assert not any(task.done() for task in waiting.values())
    assert len(store._pending) == 3  # handed over, waiting for a committer
    waiting["gone"].cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting["gone"]

    release.set()
    assert await asyncio.wait_for(asyncio.gather(*blockers), BOUND) == [
        f"blocker{n}" for n in range(store.max_committers)
    ]
    assert await asyncio.wait_for(waiting["first"], BOUND) == "first"
    assert await asyncio.wait_for(waiting["last"], BOUND) == "last"
    assert await asyncio.wait_for(store.run_in_transaction(unit("later")), BOUND) == "later"
    # the cancelled caller's unit still ran: committed when it succeeds, rolled back when it fails
    expected = ["first", "last", "later"] if cancelled_unit_fails else ["first", "gone", "last", "later"]
    assert await stored_keys(store, items) == expected


@pytest.mark.postgres
async def test_deadlocked_groups_both_finish(pg_store: Store) -> None:
    """Two groups locking the same rows in opposite order deadlock; PostgreSQL aborts one group, and its units
    must then be rerun alone so that every caller still gets its result."""
    store = pg_store
    t = items_table()
    async with store.engine.begin() as conn:
        await conn.run_sync(t.metadata.create_all)
        await conn.execute(insert(t), [{"id": 1, "k": "row1"}, {"id": 2, "k": "row2"}])
    a_has_1, b_has_2 = asyncio.Event(), asyncio.Event()
    calls: Counter[str] = Counter()
    first_txid: dict[str, int] = {}

    def unit(name: str, row: int, after: asyncio.Event | None, then: asyncio.Event | None) -> Unit[str]:
        async def work(conn: AsyncConnection) -> str:
            calls[name] += 1
            first_txid.setdefault(name, (await conn.exec_driver_sql("select txid_current()")).scalar_one())
            await conn.execute(update(t).where(t.c.id == row).values(v=t.c.v + 1))
            if after is not None:
                after.set()
            if then is not None:
                await then.wait()
            return name

        return work

    try:
        # group A: row 1, wait until B holds row 2, then row 2. Group B: row 2, then row 1.
        a1 = asyncio.create_task(store.run_in_transaction(unit("a1", 1, a_has_1, b_has_2)))
        a2 = asyncio.create_task(store.run_in_transaction(unit("a2", 2, None, None)))
        await asyncio.wait_for(a_has_1.wait(), BOUND)
        b1 = asyncio.create_task(store.run_in_transaction(unit("b1", 2, b_has_2, None)))
        b2 = asyncio.create_task(store.run_in_transaction(unit("b2", 1, None, None)))
        results = await asyncio.wait_for(asyncio.gather(a1, a2, b1, b2), BOUND)
        assert results == ["a1", "a2", "b1", "b2"]

        assert first_txid["a1"] == first_txid["a2"] != first_txid["b1"] == first_txid["b2"]
        rerun = {name for name, n in calls.items() if n == 2}
        assert rerun in ({"a1", "a2"}, {"b1", "b2"})
        assert sum(calls.values()) == 6
        async with store.read() as conn:
            assert (await conn.execute(select(t.c.id, t.c.v).order_by(t.c.id))).all() == [(1, 2), (2, 2)]
    finally:
        async with store.engine.begin() as conn:
            await conn.run_sync(t.metadata.drop_all)


async def test_a_returned_exception_is_a_value(store: Store, items: Table) -> None:
    """What a unit returns is handed back as it is, even an exception object; only what it raises is raised."""

    async def work(conn: AsyncConnection) -> ValueError:
        await conn.execute(insert(items).values(k="kept"))
        return ValueError("a value, not a failure")

    outcome = await asyncio.wait_for(store.run_in_transaction(work), BOUND)
    assert isinstance(outcome, ValueError) and outcome.args == ("a value, not a failure",)
    assert await stored_keys(store, items) == ["kept"]


async def test_a_unit_ending_in_cancellation_fails_alone(store: Store, items: Table) -> None:
    """A unit that awaited something cancelled ends in CancelledError, which is not an Exception: its caller is
    cancelled, and its group-mates are rerun and committed instead of waiting forever."""
    release = asyncio.Event()
    blockers = await _occupy_committers(store, release)
    doomed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def unit(key: str) -> Unit[str]:
        async def work(conn: AsyncConnection) -> str:
            await conn.execute(insert(items).values(k=key))
            if key == "doomed":
                doomed.cancel()
                await doomed
            return key

        return work

    waiting = {key: asyncio.create_task(store.run_in_transaction(unit(key))) for key in ("before", "doomed", "after")}
    await asyncio.sleep(0)
    release.set()
    await asyncio.wait_for(asyncio.gather(*blockers), BOUND)
    assert await asyncio.wait_for(waiting["before"], BOUND) == "before"
    assert await asyncio.wait_for(waiting["after"], BOUND) == "after"
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiting["doomed"], BOUND)
    assert await stored_keys(store, items) == ["after", "before"]
    assert await asyncio.wait_for(store.run_in_transaction(unit("later")), BOUND) == "later"


async def test_a_cancelled_committer_cancels_its_callers(store: Store, items: Table) -> None:
    """Shutting down cancels the committers; callers of the group in flight are told, not left waiting."""
    started = asyncio.Event()

    async def work(conn: AsyncConnection) -> str:
        started.set()
        await asyncio.Event().wait()  # never set: the unit is in flight when its committer is cancelled
        return "unreachable"

    caller = asyncio.create_task(store.run_in_transaction(work))
    await asyncio.wait_for(started.wait(), BOUND)
    [committer] = [t for t in store._committers if not t.done()]
    committer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(caller, BOUND)
    assert caller.cancelled()

    async def later(conn: AsyncConnection) -> str:
        await conn.execute(insert(items).values(k="later"))
        return "later"

    assert await asyncio.wait_for(store.run_in_transaction(later), BOUND) == "later"
