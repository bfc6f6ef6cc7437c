""" "sampled N of M closed conversations" counts each closed conversation once, on both backends: a question that
was asked and then failed after the fact (the platform's late report) is one conversation, not one asked and one
skipped."""

from __future__ import annotations

from datetime import timedelta

from core.profiles import ProfileSettings
from core.reports import Filters
from core.reports.sampled import sampled_conversations
from core.service import SurveyService
from core.store import Store
from core.store import surveys as q
from core.survey import Policy, SkipReason
from core.types import Address, ConversationClosed
from tests.conftest import FakeClock


def closed(user: str, conversation: str) -> ConversationClosed:
    return ConversationClosed(Address("webhook", "acme", conversation, user))


async def test_a_question_asked_then_skipped_is_one_closed_conversation(store: Store, clock: FakeClock) -> None:
    service = SurveyService(store, {"acme": ProfileSettings("acme", Policy(brand="Acme"))}, clock)
    answered = await service.handle(closed("ana", "c1"))
    failed = await service.handle(closed("bo", "c2"))
    assert answered.survey is not None and failed.survey is not None and failed.survey.id is not None
    assert (await service.handle(closed("ana", "c3"))).survey.skip_reason == "throttled"  # type: ignore[union-attr]
    async with store.transaction() as conn:
        await q.set_question_ref(conn, failed.survey.id, "wamid.2")
    clock.advance(minutes=1)
    assert await service.question_failed("acme", "webhook", "wamid.2", clock(), SkipReason.UNREACHABLE)

    # Asked: ana and bo; skipped: ana's second close (throttled) and bo's (unreachable, after asking).
    figures = await sampled_conversations(store, Filters(profile="acme"))
    assert figures is not None and figures.as_dict() == {"closed": 3, "sampled": 3, "sampled_out": 0}
    period = Filters(profile="acme", since=clock() - timedelta(hours=1), until=clock() + timedelta(hours=1))
    assert (await sampled_conversations(store, period)).as_dict()["closed"] == 3  # type: ignore[union-attr]
    later = Filters(profile="acme", since=clock() + timedelta(hours=1))
    assert (await sampled_conversations(store, later)).as_dict()["closed"] == 0  # type: ignore[union-attr]
