"""The worker's record of the questions it sent (DeliveryLog.sent_all → record_asked): each survey keeps its ref, its
status becomes sent only where that is forward, and the rollups' change, worked out in Python from the rows as read,
leaves them equal to the direct aggregate — inside the group's transaction and in a statement of its own."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.delivery_log import DeliveryLog
from core.store import Store
from core.store import question_status as qs
from core.store.tables import SurveyRow
from core.types import ScoreGiven
from tests.test_rollups_agree import World, agree

S = SurveyRow.__table__


async def _statuses(store: Store) -> dict[int, tuple[str | None, str | None, str]]:
    async with store.read() as conn:
        rows = await conn.execute(select(S.c.id, S.c.question_ref, S.c.question_status, S.c.state))
        return {r.id: (r.question_ref, r.question_status, r.state) for r in rows}


async def test_a_group_of_sent_questions_counts_once_whatever_each_survey_had(store: Store) -> None:
    world = World(store)
    for user in range(5):
        await world.close("acme", "telegram", user, "ana", None, "en", None)
    first, second, third, *rest = await world.open_surveys(("asked",))
    await world.service.handle(ScoreGiven(first.address, 3, survey_id=first.id))  # answered before the record
    async with store.transaction() as conn:
        await qs.advance_by_id(conn, second.id, qs.QuestionStatus.DELIVERED, world.clock())  # a receipt came first
    deliveries = DeliveryLog(store, world.clock)
    items = await deliveries.claim("w1", timedelta(minutes=5), 50)
    asked = [item for item in items if item.kind == "ask_score"]
    assert {item.survey_id for item in asked} == {first.id, second.id, third.id, *(s.id for s in rest)}
    sent = [(item, None if item.survey_id == third.id else f"ref-{item.survey_id}") for item in asked]

    assert await deliveries.sent_all(sent, "w1") == {item.id for item in asked}

    found = await _statuses(store)
    assert found[first.id][:2] == (f"ref-{first.id}", "sent")
    assert found[second.id][:2] == (f"ref-{second.id}", "delivered")  # never moved back
    assert found[third.id][:2] == (None, "sent")  # a channel that gives no ref
    counted = await agree(store, "group recorded")
    assert sum(n for key, n in counted["report_days"].items() if key[-1] == "q_sent") == len(asked)
    assert sum(n for key, n in counted["report_days"].items() if key[-1] == "q_reached") == 2  # answer, receipt


async def test_recorded_in_a_statement_of_its_own_the_rollups_are_written_at_once(store: Store) -> None:
    world = World(store)
    for user in range(3):
        await world.close("acme", "slack", user, None, "red", "de", "T1")
    surveys = await world.open_surveys(("asked",))
    group = [(s.id, f"ref-{s.id}") for s in surveys] + [(surveys[0].id, None)]

    await store.run_alone(lambda conn: qs.record_asked(conn, group, world.clock()))
    await store.run_alone(lambda conn: qs.record_asked(conn, group, world.clock()))  # again: nothing changes

    assert {i: v[:2] for i, v in (await _statuses(store)).items()} == {s.id: (f"ref-{s.id}", "sent") for s in surveys}
    counted = await agree(store, "recorded alone")
    assert sum(n for key, n in counted["report_days"].items() if key[-1] == "q_sent") == len(surveys)
