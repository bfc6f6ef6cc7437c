"""The outbox's record of each send: lease ready messages, record how each attempt ended, and mark customers (or
subscription URLs) that can no longer be reached."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from core.channel import tag
from core.outbound import EVENTS_CHANNEL
from core.question_status import QuestionStatus
from core.store import Store
from core.store import outbox as ob
from core.store import question_status as qs
from core.store import surveys as q
from core.store.outbox import OutboxItem
from core.survey import SkipReason, State
from core.transitions import Transition
from core.types import Address, AskScore, MarkAnswered

ASK_SCORE, MARK_ANSWERED = tag(AskScore), tag(MarkAnswered)


class DeliveryLog:
    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    async def claim(
        self, worker: str, lease: timedelta, limit: int, channels: list[str] | None = None
    ) -> list[OutboxItem]:
        """Lease ready messages; an edit of the question carries the platform id of the question it edits."""
        async with self.store.transaction() as conn:
            items = await ob.claim(conn, worker, self.clock(), lease, limit, channels)
            out = []
            for item in items:
                if item.kind == MARK_ANSWERED and item.survey_id is not None:
                    item = replace(item, question_ref=await q.question_ref(conn, item.survey_id))
                out.append(item)
            return out

    async def sent(self, item: OutboxItem, worker: str, ref: str | None) -> bool:
        async with self.store.transaction() as conn:
            ok = await ob.mark_sent(conn, item.id, worker, self.clock(), ref)
            if ok and item.kind == ASK_SCORE and item.survey_id is not None:
                if ref:
                    await q.set_question_ref(conn, item.survey_id, ref)
                # A platform that reports delivery moves it on from here (SurveyService.question_status).
                await qs.advance_by_id(conn, item.survey_id, QuestionStatus.SENT, self.clock())
            return ok

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
                await q.mark_endpoint_gone(conn, item.profile, url, now, error)
            user = item.target.get("user_id")
            if unreachable and user:
                address = Address(item.channel, item.profile, item.target.get("conversation_id", ""), user)
                await q.touch_contact(conn, address, unreachable_at=now)
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
