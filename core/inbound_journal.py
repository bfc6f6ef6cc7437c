"""Answer first, work later, for any channel that opts in. A platform that does not redeliver a request it got a 2xx
for (Slack) loses the request when the process dies between the answer and the work, so the answer waits until the
raw request is committed here; the work runs afterwards and, after a crash, again from the journal under a lease,
until it succeeds or is given up. The channel brings its name and a replay: what it does with one raw request."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from core.store import Store, journal
from core.store.journal import Entry

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5  # then the row is left `dead` and logged; it never blocks the rows behind it
BATCH = 100  # rows claimed per sweep
MAX_CHANNEL = 32  # the width of inbound_journal.channel
# Runs one journaled request to the end; returns None when it was processed, else why it was not. It may run again
# for the same request (a crash after the work, before the row left), so the work must be idempotent: the request's
# own dedup key (an event id, a delivery id) turns a second run into a no-op.
Replay = Callable[[str, dict[str, str]], Awaitable[str | None]]


def _owner() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class InboundJournal:
    """One channel's journal for one profile; rows of other channels and profiles are never claimed."""

    def __init__(
        self,
        store: Store,
        channel: str,
        profile: str,
        replay: Replay,
        clock: Callable[[], datetime],
        lease: timedelta,
        *,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        if not 0 < len(channel) <= MAX_CHANNEL:
            raise ValueError(f"a journaled channel's name has 1 to {MAX_CHANNEL} characters, not {len(channel)}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.store = store
        self.channel = channel
        self.profile = profile
        self.replay = replay
        self.clock = clock
        self.lease = lease
        self.max_attempts = max_attempts
        self.owner = _owner()
        # A replay that outlives half its lease is abandoned, so nobody else can claim it while it still runs.
        self.timeout = lease.total_seconds() / 2
        self.interval = min(max(lease.total_seconds() / 4, 0.2), 15.0)
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._finished: tuple[list[int], asyncio.Future[None]] | None = None  # the next DELETE's rows
        self._deleter: asyncio.Task[None] | None = None

    @property
    def _name(self) -> str:
        return f"{self.channel} {self.profile}"

    async def accept(self, body: str, headers: dict[str, str]) -> None:
        """Commit the request (one INSERT, group-committed); the caller answers 2xx after this returns."""
        self._start(await self._add(body, headers))

    def attempt(self, body: str, headers: dict[str, str]) -> asyncio.Task[str | None]:
        """A first try at a request before anything is journaled, started now in the caller's context. A channel
        whose platform waits long enough can answer once it succeeds, and journal the request (`adopt`) only when it
        fails or outlives the wait: the common case then costs neither the INSERT, the DELETE nor a second parse."""
        return asyncio.create_task(self.replay(body, headers))

    async def adopt(self, body: str, headers: dict[str, str], attempt: asyncio.Task[str | None]) -> None:
        """Journal a request whose `attempt` failed or is still running; committed when this returns, so the caller
        may answer 2xx. The attempt's outcome is recorded on the row as a replay's is: a failure is retried with
        backoff, a success deletes the row, and after a crash the row is replayed under the lease."""
        self._start(await self._add(body, headers), attempt)

    async def _add(self, body: str, headers: dict[str, str]) -> Entry:
        now = self.clock()
        return await self.store.run_in_transaction(
            lambda conn: journal.add(conn, self.channel, self.profile, body, headers, now, self.owner, self.lease)
        )

    async def start(self) -> None:
        """Replay what a crashed process left behind, then keep sweeping for leases that run out later."""
        try:
            await self.recover()
        except Exception:  # the sweeper tries again; start-up must not fail on it
            log.exception("%s: recovering the inbound journal failed", self._name)
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._sweep())

    async def recover(self) -> int:
        """Claim leftover rows (crashed holders, failures due for a retry) and start replaying them."""
        now = self.clock()
        async with self.store.transaction() as conn:
            claimed = await journal.claim(conn, self.channel, self.profile, self.owner, now, self.lease, BATCH)
            exhausted = [e for e in claimed if e.attempts > self.max_attempts]
            for entry in exhausted:  # every try so far died with its process (or timed out)
                why = f"gave up after {self.max_attempts} attempts without an answer"
                await journal.give_up(conn, entry.id, why)
        for entry in exhausted:
            log.error("%s: gave up on journaled request %s after %d attempts", self._name, entry.id, entry.attempts - 1)
        for entry in claimed:
            if entry.attempts <= self.max_attempts and entry.id not in self._tasks:
                self._start(entry)
        return len(claimed)

    async def idle(self) -> None:
        """Wait until every request accepted or claimed so far has been processed (or given up)."""
        await asyncio.sleep(0)
        while self._tasks:
            await asyncio.wait(list(self._tasks.values()))

    async def stop(self, grace: float) -> None:
        """Let running replays finish for `grace` seconds; hand the rest back so the next process takes them."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        running = dict(self._tasks)
        if not running:
            return
        _, late = await asyncio.wait(running.values(), timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
            left = [i for i, t in running.items() if t in late]
            async with self.store.transaction() as conn:
                await journal.release(conn, left, self.owner)

    async def entries(self) -> list[dict[str, Any]]:
        """This journal's rows still stored (pending, or dead for an operator to look at)."""
        async with self.store.read() as conn:
            return await journal.entries(conn, self.channel, self.profile)

    def _start(self, entry: Entry, attempt: asyncio.Task[str | None] | None = None) -> None:
        task = asyncio.create_task(self._process(entry, attempt))
        self._tasks[entry.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(entry.id, None))

    async def _process(self, entry: Entry, attempt: asyncio.Task[str | None] | None = None) -> None:
        """Replay the entry, or, for an adopted request, see its first attempt to the end."""
        try:
            work = self.replay(entry.body, entry.headers) if attempt is None else attempt
            error = await asyncio.wait_for(work, self.timeout)
        except TimeoutError:
            error = f"not processed within {self.timeout:g} s"
        except Exception as exc:
            error = repr(exc)
        try:
            await self._record(entry, error)
        except Exception:  # the lease runs out and the row is claimed again: the dedup keys make that harmless
            log.exception("%s: recording the outcome of journaled request %s failed", self._name, entry.id)

    async def _record(self, entry: Entry, error: str | None) -> None:
        if error is None:
            await self._finish(entry.id)
            return
        if entry.attempts >= self.max_attempts:
            log.error(
                "%s: gave up on journaled request %s after %d attempts: %s",
                self._name, entry.id, entry.attempts, _kind(error),
            )  # fmt: skip
            await self.store.run_in_transaction(lambda conn: journal.give_up(conn, entry.id, error))
            return
        backoff = min(self.lease, timedelta(seconds=2**entry.attempts))
        log.warning(
            "%s: journaled request %s failed (attempt %d): %s", self._name, entry.id, entry.attempts, _kind(error)
        )
        at = self.clock() + backoff
        await self.store.run_in_transaction(lambda conn: journal.retry(conn, entry.id, self.owner, at, error))

    async def _finish(self, entry_id: int) -> None:
        """Processed rows leave the journal in batches: one DELETE for every replay that finished in the same turn
        of the event loop (typically one group commit's worth). A crash before it only means a replay, which the
        request's dedup key turns into a no-op."""
        if self._finished is None:
            self._finished = ([], asyncio.get_running_loop().create_future())
            self._deleter = asyncio.create_task(self._delete_finished())
        ids, deleted = self._finished
        ids.append(entry_id)
        await asyncio.shield(deleted)

    async def _delete_finished(self) -> None:
        await asyncio.sleep(0)  # the replays finishing in this turn join the batch
        assert self._finished is not None
        (ids, deleted), self._finished = self._finished, None
        try:
            await self.store.run_in_transaction(lambda conn: journal.done(conn, ids))
        except Exception as exc:
            deleted.set_exception(exc)
        else:
            deleted.set_result(None)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                while await self.recover() == BATCH:  # a backlog: take the next batch once this one is done
                    await self.idle()
            except Exception:
                log.exception("%s: sweeping the inbound journal failed", self._name)


def _kind(error: str) -> str:
    """What failed, for the log: an exception's class ("ValidationError"), never its text, which may quote the request
    (a customer's message); the whole error stays on the row, with the request itself."""
    return error.partition("(")[0]
