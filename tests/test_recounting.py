"""`rollups.recounting` around a bulk write: the rows read before and after it (a short list of surveys), or the
grouped statements (a list longer than MAX_READ), inside Store.transaction and in a statement of its own, leave the
rollups equal to the direct aggregate; and a row inserted or deleted under it counts as such."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, insert, or_, update

from core.store import Store, rollups
from core.store.tables import SurveyRow
from core.store.theme_tables import ResponseThemeRow
from tests.test_rollups_agree import World, agree

S, T = SurveyRow.__table__, ResponseThemeRow.__table__


async def _world(store: Store) -> tuple[World, list[int]]:
    world = World(store)
    for user in range(4):
        await world.close("acme", "telegram", user, "ana", None, "en", None)
    ids = [s.id for s in await world.open_surveys(("asked",))]
    assert len(ids) == 4
    return world, ids


def _padded(ids: list[int], longer: bool) -> list[int]:
    """The ids, or the ids and more than MAX_READ that match nothing (the grouped path)."""
    return ids + (list(range(10**9, 10**9 + rollups.MAX_READ + 1)) if longer else [])


@pytest.mark.parametrize("longer", [False, True], ids=["rows", "grouped"])
@pytest.mark.parametrize("alone", [False, True], ids=["transaction", "alone"])
async def test_a_bulk_status_change_is_counted_once(store: Store, longer: bool, alone: bool) -> None:
    _, ids = await _world(store)

    async def work(conn: Any) -> None:
        async with rollups.recounting(conn, [S.c.id.in_(_padded(ids, longer))], ("report_days", "report_skips")):
            await conn.execute(update(S).where(S.c.id.in_(ids[:3])).values(question_status="delivered"))
            await conn.execute(update(S).where(S.c.id == ids[3]).values(state="skipped", skip_reason="unreachable"))

    await (store.run_alone(work) if alone else store.run_in_transaction(work))
    counted = await agree(store, "bulk")
    assert sum(n for key, n in counted["report_days"].items() if key[-1] == "q_reached") == 3
    assert sum(counted["report_skips"].values()) == 1


@pytest.mark.parametrize("longer", [False, True], ids=["rows", "grouped"])
async def test_theme_rows_deleted_and_inserted_under_a_recount_count_as_such(store: Store, longer: bool) -> None:
    world, _ = await _world(store)
    for _ in range(2):
        await world.tap(0, 3, None)
    scored = await world.open_surveys(("scored", "completed"))
    answered, asked = [s.id for s in scored], {s.id: s.asked_at for s in scored}
    assert len(answered) == 2
    row = {"profile": "acme", "channel": "telegram", "agent": "ana", "team": None, "locale": "en", "category": "x"}
    async with store.transaction() as conn:
        await conn.execute(insert(T), [row | {"survey_id": i, "theme": "old", "asked_at": asked[i]} for i in answered])
    async with store.transaction() as conn:
        await rollups.rebuild(conn)  # the theme rows above were written without their rollup change

    async with store.transaction() as conn:
        where = [T.c.survey_id.in_(_padded(answered, longer))]
        async with rollups.recounting(conn, where, ("report_theme_days",)):
            await conn.execute(delete(T).where(T.c.survey_id == answered[0]))
            new = [row | {"survey_id": i, "theme": t, "asked_at": asked[i]} for i in answered for t in ("a", "b")]
            await conn.execute(insert(T), new)
    counted = await agree(store, "themes")
    themes = {key[-2] for key in counted["report_theme_days"]}
    assert themes == {"old", "a", "b"}, themes


async def test_a_condition_of_another_form_reads_the_same_rows(store: Store) -> None:
    """Conditions other than a column compared with a value or NULL (here an OR and a comparison of two columns)
    are read as given rather than with bound parameters."""
    _, ids = await _world(store)
    where = [or_(S.c.id == ids[0], S.c.id == ids[1]), S.c.created_at <= S.c.asked_at]
    async with store.transaction() as conn, rollups.recounting(conn, where, ("report_days",)):
        await conn.execute(update(S).where(S.c.id.in_(ids[:2])).values(question_status="failed"))
    counted = await agree(store, "other form")
    assert sum(n for key, n in counted["report_days"].items() if key[-1] == "q_failed") == 2
