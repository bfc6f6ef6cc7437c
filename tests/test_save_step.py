"""A survey step's update and the messages it queues: one statement on PostgreSQL, and the messages keep their
order (the worker sends a conversation's messages in id order)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from core.service import SurveyService
from core.store import Store
from core.store import outbox as ob
from core.store import surveys as q
from core.store.steps import _update_then_insert, save_step
from core.survey import Policy, State
from core.types import Address, ConversationClosed, Say
from tests.test_service import settings

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def message(i: int, survey_id: int) -> ob.NewMessage:
    return ob.NewMessage("acme", "memory", "memory:acme:c1", {"n": i}, Say(f"m{i}", purpose="test"), survey_id)


@pytest.mark.parametrize("count", [0, 1, 2, 4])
async def test_messages_keep_their_order_and_the_update_lands(store: Store, clock, count: int) -> None:
    service = SurveyService(store, settings(), clock)
    address = Address("memory", "acme", "c1", "u1")
    policy: Policy = service.profile("acme").policy
    for round_ in range(10):  # sibling WITH statements run in no set order: one lucky run would prove nothing
        opened = await service.handle(ConversationClosed(replace(address, conversation_id=f"c{round_}")))
        old = opened.survey
        new = replace(old, state=State.SCORED, score=round_ % 11, scored_at=NOW)
        sent = [message(i, old.id) for i in range(count)]
        async with store.transaction() as conn:
            await save_step(conn, old, new, policy, sent, NOW)
        async with store.read() as conn:
            payloads = (
                await conn.execute(
                    select(ob.OB.c.payload).where(ob.OB.c.survey_id == old.id, ob.OB.c.kind == "say").order_by("id")
                )
            ).scalars()
            stored = await q.get_survey(conn, old.id)
        assert [p["text"] for p in payloads] == [m.action.text for m in sent]
        assert stored == new


def test_the_combined_statement_is_cached() -> None:
    """A statement SQLAlchemy cannot cache is compiled on every reply, which costs more than the round trip."""
    columns = tuple(ob.rows_for([message(0, 1)], NOW)[0])
    for rows in (1, 2, 3):
        assert _update_then_insert(("score", "state"), columns, rows)._generate_cache_key() is not None
