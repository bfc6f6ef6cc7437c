"""The retention bench's own code on a few thousand surveys (SQLite): the data it generates holds what the pass must
remove and what it must keep, the pass removed exactly that, and the bare baseline it is timed against leaves the
very same database."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Text, cast, func, select

from bench.retention_bench import NOW, PRUNING, RETENTION, run_sqlite
from core.retention import ANONYMOUS
from core.store import Store
from core.store.tables import ContactRow, InboundKeyRow, OutboxRow, SurveyRow

S = SurveyRow.__table__
OB = OutboxRow.__table__
K = InboundKeyRow.__table__
C = ContactRow.__table__
ROWS = 3000


async def count(store: Store, table, *where) -> int:
    async with store.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one())


async def test_the_bench_removes_what_is_past_its_limits_and_matches_its_baseline(tmp_path: Path) -> None:
    result = await run_sqlite(ROWS, tmp_path)

    before, after, counts = result.before, result.after_pass, result.counts
    assert after == result.after_baseline  # the baseline did the same work, no more and no less
    assert before["surveys"] == after["surveys"] == ROWS and before["scores"] == after["scores"]
    # Two years of surveys, personal fields kept one: about half are anonymised, none were before.
    assert before["anonymised"] == 0 and 0.45 * ROWS < counts["surveys_anonymised"] == after["anonymised"] < 0.55 * ROWS
    assert after["anonymised_keys"] == after["anonymised"] and after["named"] < before["named"]
    assert before["commented"] - after["commented"] == counts["comments_removed"] > 0 and after["comments"] > 0
    assert before["outbox"] - after["outbox"] == (
        counts["messages_of_surveys"] + counts["sent_messages"] + counts["dead_letters"]
    )
    assert before["delivery_keys"] - after["delivery_keys"] == counts["delivery_keys"] > ROWS
    assert before["journal"] - after["journal"] == counts["dead_requests"] > 0
    assert before["contacts"] - after["contacts"] == counts["contacts_deleted"] > 0

    personal, comments = RETENTION.personal_cutoff(NOW), RETENTION.comments_cutoff(NOW)
    assert personal is not None and comments is not None
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'pass.db'}")
    try:
        ended = S.c.state.in_(("completed", "expired"))
        old, recent = S.c.created_at < personal, S.c.created_at >= comments
        assert await count(store, S, ended, old, S.c.user_id != ANONYMOUS) == 0
        assert await count(store, S, ended, old, S.c.customer_name.is_not(None)) == 0
        assert await count(store, S, ended, old, cast(S.c.extra, Text) != "{}") == 0
        assert await count(store, S, ended, S.c.created_at < comments, S.c.comment.is_not(None)) == 0
        # What is younger than the limits keeps its customer and comment.
        assert await count(store, S, S.c.created_at >= personal, S.c.user_id == ANONYMOUS) == 0
        assert await count(store, S, recent, S.c.comment.is_not(None)) > 0
        assert await count(store, S, recent, S.c.customer_name.is_not(None)) > 0
        assert await count(store, K, K.c.received_at < NOW - PRUNING.delivery_keys) == 0
        assert await count(store, K) > 0
        assert await count(store, OB, OB.c.status == "sent", OB.c.created_at < NOW - PRUNING.sent_messages) == 0
        assert await count(store, OB, OB.c.status == "pending") > 0  # open surveys' questions still to send
        assert await count(store, C, C.c.opted_out_at.is_not(None)) > 0  # an opt-out outlives the data
    finally:
        await store.dispose()
