"""On PostgreSQL the worker records a pass's sends (other than questions) through one connection it keeps for the
pass, with a fixed statement handed to asyncpg: it marks only what the worker still holds, and a connection dropped
mid-pass loses no send (the group is written again through the pool). The rate limiter's one-step departure books
exactly what booking, holding and departing would."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from bots.worker import Worker, WorkerSettings
from core.channel import Delivery
from core.ratelimit import Rate, RateLimiter
from core.store import Store
from core.store import outbox as ob
from tests.test_outbox_claim import LEASE, claim, drop_connections, message, queue
from tests.test_worker import Scripted, outbox_rows, service_for


async def test_a_group_is_marked_sent_only_where_the_worker_still_holds_the_lease(pg_store: Store, clock) -> None:
    await queue(pg_store, clock, message("a", "a1"), message("b", "b1"), message("c", "c1"))
    [a1] = await claim(pg_store, "w1", clock(), limit=1)
    later = clock() + timedelta(seconds=20)
    b1, c1 = await claim(pg_store, "w1", later)
    [taken] = await claim(pg_store, "w2", clock() + LEASE + timedelta(seconds=1))  # a1's lease ran out
    assert taken.id == a1.id
    async with pg_store.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        done = await ob.mark_sent_alone(conn, [(a1.id, "late"), (b1.id, "r-b1"), (c1.id, None)], "w1", later)
        assert done == {b1.id, c1.id}
        assert await ob.mark_sent_alone(conn, [(b1.id, "again")], "w1", later) == set()  # sent already
    rows = {r.id: r for r in await outbox_rows(pg_store)}
    assert (rows[a1.id].status, rows[a1.id].leased_by, rows[a1.id].ref) == ("sending", "w2", None)
    assert (rows[b1.id].status, rows[b1.id].ref, rows[b1.id].lease_until) == ("sent", "r-b1", None)
    assert (rows[c1.id].status, rows[c1.id].ref) == ("sent", None)
    assert rows[b1.id].sent_at == later


async def test_the_kept_connection_dropped_mid_pass_loses_no_send(pg_store: Store, clock, pg_url) -> None:
    """The database drops every connection after the sixth send, the kept one too: what was sent before and after
    is recorded, each once, with its ref."""
    service = service_for(pg_store, clock)
    await queue(pg_store, clock, *(message(f"c{i}", f"m{i}") for i in range(16)))
    database = pg_store.engine.url.database

    class Dropping(Scripted):
        async def send(self, delivery: Delivery) -> str | None:
            self.calls.append(delivery)
            if len(self.calls) == 6:
                await drop_connections(pg_url, database)
            return f"ref-{delivery.id}"

    sender = Dropping()
    worker = Worker(service, {("memory", "acme"): sender}, WorkerSettings(batch=20, concurrency=3), "w")
    assert await worker.run_once() == 16
    rows = await outbox_rows(pg_store)
    assert Counter(r.status for r in rows) == {"sent": 16}
    assert all(r.ref == f"ref-{r.id}" and r.lease_until is None for r in rows)
    assert sorted(d.id for d in sender.calls) == [r.id for r in rows]  # each sent once
    await queue(pg_store, clock, message("c0", "next"))  # the next pass keeps a connection again
    assert await worker.run_once() == 1
    assert [r.status for r in await outbox_rows(pg_store)][-1] == "sent"


def test_leaving_at_once_books_what_book_hold_and_depart_would() -> None:
    limits = [("bot", Rate(25.0)), ("chat", Rate(1.0, burst=3)), ("exact", Rate(20.0, burst=2, exact=True))]
    stepwise, at_once = RateLimiter(), RateLimiter()
    left = 0
    for now in (100.0, 100.01, 100.05, 100.1, 100.11, 103.5):
        assert stepwise.earliest(limits, now) == at_once.earliest(limits, now)
        if at_once.earliest(limits, now) > 0:
            continue
        left += 1
        wait, later = stepwise.book(limits, now)
        assert wait == 0 and later == [] and stepwise.hold(limits, now) == 0
        stepwise.depart(limits, now)
        at_once.leave_now(limits, now)
        assert (stepwise._tat, stepwise._left, stepwise._last) == (at_once._tat, at_once._left, at_once._last)
    assert left == 4  # 100.01 and 100.11 came too soon after the send before them
