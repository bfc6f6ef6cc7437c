"""Sends that succeeded are recorded a group at a time: one transaction marks every send that finished while the
previous group was being written, instead of one transaction per message.

A send keeps its slot among the worker's `concurrency` until its outcome is written, so a hard crash repeats (once the
lease runs out) no more sends than before grouping: at most `concurrency`. A group the database refused is written
again (the outcomes are kept, never dropped) a few times before its senders are told; those messages are then sent
again after their lease, as after a crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from core.delivery_log import DeliveryLog
from core.store.outbox import OutboxItem

log = logging.getLogger(__name__)

Waiting = tuple[OutboxItem, str | None, asyncio.Future[bool]]


class SentRecorder:
    def __init__(
        self,
        deliveries: DeliveryLog,
        worker: str,
        *,
        attempts: int = 3,
        pause: float = 0.5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.deliveries = deliveries
        self.worker = worker
        self.attempts = attempts
        self.pause = pause
        self.sleep = sleep
        self._waiting: list[Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    def record(self, item: OutboxItem, ref: str | None) -> asyncio.Future[bool]:
        """Queue one send for the next group; the future says whether this worker still held the lease (False:
        another worker took it over and owns the outcome)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, ref, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return future

    async def _write(self) -> None:
        while self._waiting:
            group, self._waiting = self._waiting, []
            await self._write_group(group)

    async def _write_group(self, group: list[Waiting]) -> None:
        for attempt in range(1, self.attempts + 1):
            try:
                done = await self.deliveries.sent_all([(item, ref) for item, ref, _ in group], self.worker)
            except Exception as exc:
                if attempt == self.attempts:
                    for _, _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    return
                log.warning("recording %d sends failed (%s); trying again", len(group), type(exc).__name__)
                await self.sleep(self.pause * attempt)
            else:
                for item, _, future in group:
                    if not future.done():
                        future.set_result(item.id in done)
                return
