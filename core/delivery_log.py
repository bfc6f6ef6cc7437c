"""The outbox's record of each send: lease ready messages, record how each attempt ended, and mark customers (or
subscription URLs) that can no longer be reached."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta

from core.outbound import EVENTS_CHANNEL
from core.store import Store, reachability
from core.store import outbox as ob
from core.store import question_status as qs
from core.store import surveys as q
from core.store.kept_connection import KeptConnection
from core.store.outbox import OutboxItem
from core.survey import SkipReason, State
from core.transitions import Transition
from core.types import Address

ASK_SCORE = ob.ASK_SCORE


class DeliveryLog:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock
        # Within holding(): sends are recorded through one kept connection, which plans the lookup by id.
        self._kept = KeptConnection(store, ob.LOOKUP_BY_ID)

    @asynccontextmanager
    async def holding(self) -> AsyncIterator[None]:
        """Record the sends of one pass through a connection kept for the pass (PostgreSQL, AUTOCOMMIT), with the
        statement handed to asyncpg directly: a pool checkout and return per group, and SQLAlchemy's work on the
        statement, cost the worker more CPU than the statement itself. SQLite records as before."""
        if self.store.is_sqlite or self._kept.keeping:
            yield
            return
        self._kept.keeping = True
        try:
            yield
        finally:
            await self._kept.close()

    async def claim(
        self, worker: str, lease: timedelta, limit: int, channels: list[str] | None = None
    ) -> list[OutboxItem]:
        """Lease ready messages (one statement); an edit of the question carries the platform id of the question
        it edits."""
        now = self.clock()
        # In a transaction of its own: on PostgreSQL the claim sets how its plan walks the queue for that transaction.
        return await self.store.run_atomic(lambda conn: ob.claim(conn, worker, now, lease, limit, channels))

    async def sent(self, item: OutboxItem, worker: str, ref: str | None) -> bool:
        return item.id in await self.sent_all([(item, ref)], worker)

    async def sent_all(self, sent: Sequence[tuple[OutboxItem, str | None]], worker: str) -> set[int]:
        """Record a group of sends in one transaction: the ids still leased to `worker` are marked sent (the
        ones returned), and each question among them gives its survey the ref it went out as."""
        now = self.clock()
        if not any(item.kind == ob.ASK_SCORE for item, _ in sent):  # one statement: outbox rows only
            pairs = [(i.id, r) for i, r in sent]
            if self._kept.keeping:
                return await self._mark_sent_held(pairs, worker, now)
            return await self.store.run_atomic(lambda conn: ob.mark_sent_all(conn, pairs, worker, now))
        return await self.store.run_atomic(lambda conn: ob.record_sent(conn, sent, worker, now))

    async def _mark_sent_held(self, pairs: list[tuple[int, str | None]], worker: str, now: datetime) -> set[int]:
        """Through the kept connection; a failure ends keeping for the pass (KeptConnection says why)."""
        return await self._kept.run(lambda driver: ob.mark_sent_driver(driver, pairs, worker, now))

    async def retry(self, item: OutboxItem, worker: str, delay: float, error: str) -> None:
        async with self.store.transaction() as conn:
            await ob.mark_retry(conn, item.id, worker, self.clock() + timedelta(seconds=delay), error)

    async def defer(self, item: OutboxItem, worker: str, delay: float) -> None:
        async with self.store.transaction() as conn:
            await ob.mark_deferred(conn, item.id, worker, self.clock() + timedelta(seconds=delay))

    async def dead(
        self,
        item: OutboxItem,
        worker: str,
        error: str,
        *,
        unreachable: bool = False,
        gone: bool = False,
        outside_window: bool = False,
    ) -> None:
        """Give up on a message; a customer who blocked us, or a subscription URL that is gone, is marked so
        nothing more is queued for them. A question refused outside the platform's messaging window skips its
        survey (outside_window) unless it was answered already."""
        now = self.clock()
        skipped: Transition | None = None
        async with self.store.transaction() as conn:
            await ob.mark_dead(conn, item.id, worker, error)
            url = item.target.get("conversation_id")
            if gone and item.channel == EVENTS_CHANNEL and url:
                await reachability.mark_endpoint_gone(conn, item.profile, url, now, error)
            user = item.target.get("user_id")
            if unreachable and user:
                address = Address(item.channel, item.profile, item.target.get("conversation_id", ""), user)
                await reachability.touch_contact(conn, address, unreachable_at=now)
                survey = None if item.survey_id is None else await q.get_survey(conn, item.survey_id, lock=True)
                if survey is not None and survey.is_open:
                    await q.skip_unreachable(conn, item.survey_id, now)
                    ended = replace(survey, state=State.SKIPPED, skip_reason=SkipReason.UNREACHABLE)
                    skipped = Transition.of(survey, ended)
            if outside_window and skipped is None and item.kind == ASK_SCORE and item.survey_id is not None:
                survey = await q.get_survey(conn, item.survey_id, lock=True)
                if survey is not None and await qs.skip_outside_window(conn, item.survey_id, now):
                    ended = replace(survey, state=State.SKIPPED, skip_reason=SkipReason.OUTSIDE_WINDOW)
                    skipped = Transition.of(survey, ended)
        if skipped is not None:
            skipped.log()
