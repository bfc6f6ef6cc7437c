"""Sends that succeeded are recorded a group at a time: one statement marks a group of sends, instead of one
transaction per message.

A send keeps its slot among the worker's `concurrency` until its outcome is written, so a hard crash repeats (once the
lease runs out) no more sends than before grouping: at most `concurrency`. A group is written once at least as many
sends wait for it as the pass has senders still sending (about half the slots: the other half goes on sending while
it is written), or after `linger` seconds when those are slow.
Each statement commits on its own, and on PostgreSQL the commit is most of its cost: writing every finished send at
once, as soon as the writer was free, made groups of one or two. A group the database refused is written again (the
outcomes are kept, never dropped) a few times before its senders are told; those messages are then sent again after
their lease, as after a crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from core.delivery_log import DeliveryLog
from core.store.outbox import OutboxItem

log = logging.getLogger(__name__)

LINGER = 0.02  # seconds a finished send waits at most for others to join its group


class SentRecorder:
    def __init__(
        self,
        deliveries: DeliveryLog,
        worker: str,
        *,
        attempts: int = 3,
        pause: float = 0.5,
        linger: float = LINGER,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.deliveries = deliveries
        self.worker = worker
        self.attempts = attempts
        self.pause = pause
        self.linger = linger
        self.sleep = sleep
        self.sending = 0  # the pass's senders not waiting for a record: each will finish a send, or leave
        self._waiting: list[tuple[OutboxItem, str | None]] = []
        self._group: asyncio.Future[set[int]] | None = None  # what the waiting sends are told once written
        self._writer: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def joined(self) -> None:
        """A sender of the pass starts taking messages."""
        self.sending += 1

    def left(self) -> None:
        """A sender of the pass has nothing more to send: the group waiting no longer waits for it."""
        self.sending -= 1
        if self._waiting:
            self._write_when_due()

    def asleep(self) -> None:
        """A sender sleeps until its rate-limit slot: the group waiting does not wait for it meanwhile."""
        self.left()

    def awake(self) -> None:
        self.joined()

    async def record(self, item: OutboxItem, ref: str | None) -> bool:
        """Record one send with the next group; True when this worker still held the lease (False: another worker
        took it over and owns the outcome). Raises what the database raised when the group could not be written.
        The sender waits meanwhile: it holds its slot until then."""
        group = self._group
        if group is None:
            group = self._group = asyncio.get_running_loop().create_future()
        self._waiting.append((item, ref))
        self.sending -= 1
        self._write_when_due()
        return item.id in await group

    def _write_when_due(self) -> None:
        if self._writer is not None and not self._writer.done():
            return  # the writer takes the next group once it is done with this one
        if len(self._waiting) >= self.sending:
            self._start_writer()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.linger, self._linger_over)

    def _linger_over(self) -> None:
        self._timer = None
        if self._waiting and (self._writer is None or self._writer.done()):
            self._start_writer()

    def _start_writer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        while self._waiting:
            group, future = self._waiting, self._group
            self._waiting, self._group = [], None
            assert future is not None
            await self._write_group(group, future)
            self.sending += len(group)  # their senders go on sending
            if self._waiting and len(self._waiting) < self.sending:
                if self._timer is None:  # too few for a group yet: the next one finished, or the linger, writes
                    self._timer = asyncio.get_running_loop().call_later(self.linger, self._linger_over)
                return

    async def _write_group(self, group: list[tuple[OutboxItem, str | None]], future: asyncio.Future[set[int]]) -> None:
        for attempt in range(1, self.attempts + 1):
            try:
                done = await self.deliveries.sent_all(group, self.worker)
            except Exception as exc:
                if attempt == self.attempts:
                    if not future.done():
                        future.set_exception(exc)
                    return
                log.warning("recording %d sends failed (%s); trying again", len(group), type(exc).__name__)
                await self.sleep(self.pause * attempt)
            else:
                if not future.done():
                    future.set_result(done)
                return
