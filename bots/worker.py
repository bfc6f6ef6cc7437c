"""The delivery worker: drives due surveys from the database and sends the outbox through each channel."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from adapters.http import failure_text
from core.backoff import backoff_delay
from core.channel import OutboundChannel, send
from core.delivery import OutsideWindow, PermanentFailure, RetryLater
from core.delivery_log import DeliveryLog
from core.ratelimit import Limit, RateLimiter
from core.redaction import shown_action
from core.sent_recorder import SentRecorder
from core.service import SurveyService
from core.store.outbox import OutboxItem

if TYPE_CHECKING:
    from bots.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerSettings:
    """The worker's defaults, written here only: the config file's `worker` keys default to these."""

    lease: timedelta = timedelta(seconds=60)
    batch: int = 200  # a pass has a fixed cost (step due surveys, claim): larger batches spread it
    poll_interval: float = 0.2
    max_attempts: int = 8
    send_timeout: float = 30.0
    max_inline_wait: float = 5.0  # a longer rate-limit wait puts the message back in the queue instead
    concurrency: int = 8  # sends in flight (or being recorded) at once; a hard crash repeats at most this many


class Worker:
    """Channels are keyed by (channel, profile); a profile-less key ("events", "*") serves every profile."""

    def __init__(
        self,
        service: SurveyService,
        senders: Mapping[tuple[str, str], OutboundChannel],
        settings: WorkerSettings = WorkerSettings(),
        worker_id: str | None = None,
        metrics: Metrics | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.service = service
        self.sleep = sleep  # injected by tests that run on a fake clock
        self.metrics = metrics
        self.limiter = RateLimiter()
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.deliveries = DeliveryLog(service.store, service.clock)
        self.recorder = SentRecorder(self.deliveries, self.worker_id, sleep=sleep)
        self.senders = senders
        self.settings = settings
        self._stop = asyncio.Event()
        self._pruned_at = 0.0
        self._counters: dict[tuple[str, str, str], Any] = {}  # labelled metric children, looked up once
        # Chores beside the sends, each run as a task until stop() (the retention pass): fn(stop_event).
        self.background: list[Callable[[asyncio.Event], Awaitable[None]]] = []

    def sender_for(self, item: OutboxItem) -> OutboundChannel | None:
        return self.senders.get((item.channel, item.profile)) or self.senders.get((item.channel, "*"))

    async def run_once(self) -> int:
        """One pass: step due surveys, then send one batch. Returns the number of messages handled."""
        await self.service.tick()
        claimed_at = self._now()
        items = await self.deliveries.claim(self.worker_id, self.settings.lease, self.settings.batch)
        if items:
            # A send must finish before the lease runs out, or another worker could claim and send it again.
            margin = min(self.settings.send_timeout, self.settings.lease.total_seconds() / 2)
            send_by = claimed_at + self.settings.lease.total_seconds() - margin
            async with self.deliveries.holding():
                await self._send_all(items, send_by)
        if claimed_at - self._pruned_at > 60:
            self.limiter.forget_idle(claimed_at)
            self._pruned_at = claimed_at
        return len(items)

    async def _send_all(self, items: list[OutboxItem], send_by: float) -> None:
        """`concurrency` senders take the batch's messages in order, each the next one once its previous send is
        recorded (a slot is held until then: a crash repeats at most this many sends). A message that fails
        unexpectedly does not stop the others, which are sent and recorded before the failure is raised."""
        queue = iter(items)
        failures: list[Exception] = []

        recorder = self.recorder

        async def sender() -> None:
            recorder.joined()
            try:
                for item in queue:
                    try:
                        ref = await self._deliver(item, send_by)
                        if ref is not None:  # written with the other sends that finish meanwhile
                            await recorder.record(item, ref[0])
                    except Exception as exc:
                        failures.append(exc)
            finally:
                recorder.left()

        await asyncio.gather(*(sender() for _ in range(min(self.settings.concurrency, len(items)))))
        if failures:
            raise failures[0]

    async def drain(self, max_passes: int = 100) -> int:
        """Run passes until nothing is ready (tests and the demo)."""
        total = 0
        for _ in range(max_passes):
            n = await self.run_once()
            total += n
            if n == 0:
                break
        return total

    async def run(self) -> None:
        chores = [asyncio.create_task(chore(self._stop)) for chore in self.background]
        while not self._stop.is_set():
            try:
                handled = await self.run_once()
            except Exception:  # the loop must survive a database hiccup
                log.exception("worker pass failed")
                handled = 0
            if handled == 0:
                try:
                    await asyncio.wait_for(self._stop.wait(), self.settings.poll_interval)
                except TimeoutError:
                    pass
        await asyncio.gather(*chores, return_exceptions=True)

    def stop(self) -> None:
        self._stop.set()

    def _now(self) -> float:
        """The service clock, so tests that move time move the rate limiter and the leases too."""
        return self.service.clock().timestamp()

    def _count(self, name: str, item: OutboxItem) -> None:
        if self.metrics is None:
            return
        key = (name, item.channel, item.kind)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = getattr(self.metrics, name).labels(item.channel, item.kind)
        counter.inc()

    async def _wait_for_slot(self, limits: list[Limit], now: float, send_by: float) -> float | None:
        """Book a slot and sleep until it; returns the departure time, or None when no slot is left before the
        lease's deadline. Buckets left out of the booking are reserved once the send is due. A send before it that
        left late (a stalled event loop wakes many sleepers at once) or was answered slowly may still hold it
        back, so no two sends leave closer than the limiter allows."""
        wait, later = self.limiter.book(limits, now)
        while True:
            if wait > 0:
                if now + wait > send_by:
                    return None
                await self.sleep(wait)
                now = max(self._now(), now + wait)  # at least `wait` has passed, whatever the clock says
            if later:
                wait, later = self.limiter.reserve(later, now), []
                continue
            wait = self.limiter.hold(limits, now)
            if wait <= 0:
                self.limiter.depart(limits, now)
                return now

    async def _dead(
        self,
        item: OutboxItem,
        error: str,
        reason: str,
        *,
        unreachable: bool = False,
        gone: bool = False,
        outside_window: bool = False,
    ) -> None:
        """Give up on a message. The WARNING says where it was going and why in a few words; the platform's error
        text, which may quote a response body, stays in the dead letter (read through /api/v1/dead-letters)."""
        self._count("dead", item)
        await self.deliveries.dead(
            item, self.worker_id, error, unreachable=unreachable, gone=gone, outside_window=outside_window
        )
        log.warning(
            "dead letter: outbox %s (profile %s, channel %s, kind %s): %s",
            item.id,
            item.profile,
            item.channel,
            item.kind,
            reason,
        )

    async def _deliver(self, item: OutboxItem, send_by: float) -> tuple[str | None] | None:
        """Send one message; a success returns (the platform's ref,) for the batch's record, anything else is
        recorded here."""
        sender = self.sender_for(item)
        if sender is None:
            await self._dead(item, f"no sender for channel {item.channel!r}", "no sender for this channel")
            return
        try:
            delivery, action = item.decode()
        except PermanentFailure as exc:  # refused when queued, or not an action this version knows
            self._count("failed", item)
            await self._dead(item, str(exc), _permanent_reason(exc))
            return
        settings = self.service.profiles.get(item.profile)  # what the team and subscribers see of a comment
        action = shown_action(action, None if settings is None else settings.redaction)
        limits: list[Limit] = list(sender.rate_limits(delivery))
        now = self._now()
        wait = self.limiter.earliest(limits, now) if limits else 0.0
        # Never sit on a leased message for long: another worker may claim it once the lease runs out.
        if wait > min(self.settings.max_inline_wait, self.settings.lease.total_seconds() / 4) or now + wait > send_by:
            await self.deliveries.defer(item, self.worker_id, wait)
            return
        if wait <= 0:  # the usual case: nothing to sleep for
            self.limiter.leave_now(limits, now)
            sent_at: float | None = now
        else:
            self.recorder.asleep()
            try:
                sent_at = await self._wait_for_slot(limits, now, send_by)
            finally:
                self.recorder.awake()
        if sent_at is None:
            await self.deliveries.defer(item, self.worker_id, 0.0)
            return
        try:
            bound = sender.send_bound
            if bound is not None and bound <= self.settings.send_timeout:  # the channel's client ends it in time
                ref = await send(sender, delivery, action)
            else:
                async with asyncio.timeout(self.settings.send_timeout):  # in this task: it leaves as booked
                    ref = await send(sender, delivery, action)
        except RetryLater as exc:
            self._count("rate_limited", item)
            self._count("retried", item)
            delay = exc.retry_after if exc.retry_after is not None else backoff_delay(item.attempts)
            # Counted from the answer, not from before the send: nothing for this target goes out any sooner.
            booked = [key for key, _ in limits]
            self.limiter.pause([exc.bucket] if exc.bucket in booked else booked, self._now() + delay)
            await self.deliveries.retry(item, self.worker_id, delay, f"rate limited: {exc}")
        except PermanentFailure as exc:
            self._count("failed", item)
            outside = isinstance(exc, OutsideWindow)  # a question then skips its survey (outside_window)
            why = _permanent_reason(exc)
            await self._dead(item, str(exc), why, unreachable=exc.unreachable, gone=exc.gone, outside_window=outside)
        except Exception as exc:  # transient by default: 5xx, timeouts, resets
            self._count("failed", item)
            error = failure_text(exc)  # an SDK's message may quote a response body or a token-bearing URL
            if item.attempts >= self.settings.max_attempts:
                reason = f"gave up after {item.attempts} attempts ({type(exc).__name__})"
                await self._dead(item, f"gave up after {item.attempts} attempts: {error}", reason)
            else:
                self._count("retried", item)
                await self.deliveries.retry(item, self.worker_id, backoff_delay(item.attempts), error)
        else:
            self.limiter.answered(limits, sent_at, self._now())
            self._count("sent", item)
            return (ref,)
        return None


def _permanent_reason(exc: PermanentFailure) -> str:
    """A few words naming the kind of failure, never the platform's text."""
    what = ", endpoint gone" if exc.gone else ", recipient unreachable" if exc.unreachable else ""
    what = ", outside the messaging window" if isinstance(exc, OutsideWindow) else what
    cause = exc.__cause__
    return f"permanent failure{what}" + (f" ({type(cause).__name__})" if cause is not None else "")
