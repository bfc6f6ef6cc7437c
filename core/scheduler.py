"""Jobs on a stored schedule (relational campaigns, digests), stepped by the worker: each job's next occurrence is a
row in `chores`, taken under a lease, so with several workers on one database each occurrence runs once, a crashed
run is resumed by another worker from the progress it saved, and after downtime the missed occurrences collapse
into the latest one (one digest, not ten). No timer lives in a process."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from core.schedules import Schedule
from core.store import Store, chores

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
CHECK_EVERY = 30.0  # seconds between looks at the stored schedule


class LeaseLost(RuntimeError):
    """Another worker took the turn (this one stalled past its lease): stop without finishing."""


@dataclass(frozen=True, slots=True)
class Occurrence:
    """The occurrence a run serves: `at` (UTC) and the one before it, where the period it closes began."""

    at: datetime
    previous: datetime


class ScheduledJob(Protocol):
    """`name` is unique across jobs and stable across restarts (e.g. `campaign:<profile>:<campaign>`)."""

    name: str
    schedule: Schedule
    tz: ZoneInfo

    async def run(self, turn: Turn) -> dict[str, int]:
        """Do the occurrence's work; idempotent for one occurrence, since a run that crashed is run again."""
        ...


class Turn:
    """The holder's handle on one run: the occurrence, progress kept across a crash, and the way to finish."""

    def __init__(self, scheduler: Scheduler, job: ScheduledJob, occurrence: Occurrence, state: dict[str, Any]):
        self._scheduler, self._job, self.occurrence = scheduler, job, occurrence
        self._state = state
        self.finished = False

    @property
    def progress(self) -> dict[str, Any]:
        """What an earlier attempt at this occurrence saved with `keep` (empty on a first attempt)."""
        return dict(self._state.get("progress") or {})

    async def keep(self, progress: dict[str, Any]) -> None:
        """Save progress and extend the lease; LeaseLost when another worker holds the turn now."""
        s = self._scheduler
        self._state["progress"] = progress
        async with s.store.transaction() as conn:
            held = await chores.keep_chore(conn, self._job.name, s.owner, s.clock() + s.lease, self._state)
        if not held:
            raise LeaseLost(self._job.name)

    async def finish(self, counts: dict[str, int], work: Callable[[Any], Awaitable[None]] | None = None) -> None:
        """End the occurrence; `work` (the run's last writes, e.g. the digest's messages) commits in the same
        transaction, and only while this worker still holds the turn: exactly once per occurrence."""
        s, job = self._scheduler, self._job
        due = job.schedule.next_after(self.occurrence.at, job.tz, _anchor(self._state))
        state = {k: v for k, v in self._state.items() if k not in ("progress", "occurrence")}
        state["last_occurrence"] = self.occurrence.at.isoformat()
        async with s.store.transaction() as conn:
            if not await chores.keep_chore(conn, job.name, s.owner, s.clock() + s.lease, state):
                raise LeaseLost(job.name)
            if work is not None:
                await work(conn)
            await chores.finish_chore(conn, job.name, s.owner, s.clock(), due, counts)
        self.finished = True


def _anchor(state: dict[str, Any]) -> datetime | None:
    value = state.get("anchor")
    return None if value is None else datetime.fromisoformat(value)


class Scheduler:
    def __init__(
        self,
        store: Store,
        jobs: Sequence[ScheduledJob],
        clock: Callable[[], datetime],
        owner: str | None = None,
        lease: timedelta = LEASE,
    ) -> None:
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"scheduled job names must be unique: {sorted(names)}")
        self.store, self.jobs, self.clock, self.lease = store, list(jobs), clock, lease
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._running: dict[str, asyncio.Task[dict[str, int] | None]] = {}  # the jobs running here, by name

    async def run(self, stop: asyncio.Event, check_every: float = CHECK_EVERY) -> None:
        """The worker's chore: look at the stored schedule every `check_every` seconds and start each due job in a
        task of its own, so a long run (a campaign over a million contacts) holds up no other job's occurrence. A
        job still running here is not started again; at `stop` the runs under way are waited for."""
        try:
            while not stop.is_set():
                self._start()
                try:
                    await asyncio.wait_for(stop.wait(), check_every)
                except TimeoutError:
                    pass
            await asyncio.gather(*self._running.values())
        finally:
            running = [task for task in self._running.values() if not task.done()]
            for task in running:  # only when this chore itself is cancelled: each run gives its turn back
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def run_due(self) -> dict[str, dict[str, int]]:
        """Run each due job this worker wins the turn of, all at once, and wait for them: what each did, by job
        name. A failing job is logged and its turn given back (the next look retries it); the others still run."""
        started = self._start()
        results = await asyncio.gather(*started.values())
        return {name: counts for name, counts in zip(started, results, strict=True) if counts is not None}

    def _start(self) -> dict[str, asyncio.Task[dict[str, int] | None]]:
        """A task for each job not already running here (each holds its own chore row and lease)."""
        started: dict[str, asyncio.Task[dict[str, int] | None]] = {}
        for job in self.jobs:
            if job.name in self._running:
                continue
            task = asyncio.create_task(self._run_logged(job), name=f"scheduled job {job.name}")
            task.add_done_callback(self._forget)
            self._running[job.name] = started[job.name] = task
        return started

    def _forget(self, task: asyncio.Task[dict[str, int] | None]) -> None:
        for name, running in list(self._running.items()):
            if running is task:
                del self._running[name]

    async def _run_logged(self, job: ScheduledJob) -> dict[str, int] | None:
        try:
            return await self.run_job(job)
        except LeaseLost:
            log.warning("scheduled job %s: the lease ran out and another worker took over", job.name)
        except Exception:
            log.exception("scheduled job %s failed", job.name)
        return None

    async def run_job(self, job: ScheduledJob, *, force: bool = False) -> dict[str, int] | None:
        """Run `job` if its occurrence is due (or `force`) and nobody holds it: what it did, else None."""
        now = self.clock()
        async with self.store.transaction() as conn:
            await self._register(conn, job, now)
            state = await chores.claim_chore(conn, job.name, self.owner, now, self.lease, force=force)
            if state is None:
                return None
            row = await chores.chore(conn, job.name)
            assert row is not None
            due = row["due_at"] if row["due_at"].tzinfo else row["due_at"].replace(tzinfo=now.tzinfo)
            occurrence = self._occurrence(job, state, due, now, force=force)
            state["occurrence"] = occurrence.at.isoformat()
            await chores.keep_chore(conn, job.name, self.owner, now + self.lease, state)
        # A failed run is due again at once, so the next look resumes it (a forced one too, due later otherwise).
        retry = now if due > now else None
        turn = Turn(self, job, occurrence, state)
        try:
            counts = await job.run(turn)
            if not turn.finished:
                await turn.finish(counts)
        except LeaseLost:
            raise
        except BaseException:
            async with self.store.transaction() as conn:
                await chores.release_chore(conn, job.name, self.owner, retry)
            raise
        return counts

    async def _register(self, conn: Any, job: ScheduledJob, now: datetime) -> None:
        """A job seen for the first time is due at its first occurrence (an interval's first run anchors it)."""
        first = job.schedule.first(now, job.tz)
        await chores.register_chore(conn, job.name, first, {"anchor": first.isoformat()})

    def _occurrence(
        self, job: ScheduledJob, state: dict[str, Any], due: datetime, now: datetime, *, force: bool = False
    ) -> Occurrence:
        """The occurrence an unfinished earlier attempt was serving, else the latest one due. A run forced before
        the next occurrence serves the latest one already past (not the next, which would then be skipped)."""
        if state.get("occurrence"):
            at = datetime.fromisoformat(state["occurrence"])
        elif force and now < due:
            at = job.schedule.at_or_before(now, job.tz, _anchor(state))
        else:
            at = job.schedule.latest(due, now, job.tz, _anchor(state))
        return Occurrence(at, job.schedule.previous(at, job.tz))
