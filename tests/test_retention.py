"""The retention pass on SQLite and PostgreSQL: what is past its limit goes, nothing else does, and every figure of
the report stays what it was."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from sqlalchemy import select, text

from bots.config import parse_config
from bots.runtime import Runtime
from core import followup
from core.reports import DIMENSIONS, breakdown, summary
from core.reports.analytics import distribution, followup_stats, trend
from core.retention import ANONYMOUS
from core.retention_pass import CHORE, RetentionPass
from core.store import Store, chores, journal, sessions
from core.store.tables import ContactRow, InboundKeyRow, OutboxRow, SurveyRow, metadata
from core.types import Address, ConversationClosed, ScoreGiven, TextReceived
from tests.conftest import FakeClock

S = SurveyRow.__table__
OLD_NAME, OLD_USER, OLD_COMMENT = "Quintanilla Marsh", "u-zanzibar-77", "the zanzibar invoice took ages"


def config(url: str, **retention: Any) -> dict[str, Any]:
    profile = {
        "brand": "Acme",
        "policy": {"throttle": "0s"},
        "channels": {"memory": {}},
        "alerts": [{"channel": "memory", "destination": "support"}],
        "retention": retention or {"comments_days": 180, "personal_days": 90},
    }
    return {"database_url": url, "profiles": {"acme": profile}}


def runtime(store: Store, clock: FakeClock, **retention: Any) -> Runtime:
    return Runtime(parse_config(config(store.url, **retention), env={}), store=store, clock=clock)


async def survey(rt: Runtime, n: int, *, score: int | None, comment: str | None, agent: str, user: str) -> None:
    address = Address("memory", "acme", f"c-{n}", user)
    old = user.startswith(OLD_USER)
    name, meta = (f"{OLD_NAME} {n}", {"plan": "pro", "email": "x@example.org"}) if old else ("Recent Person", {})
    closed = ConversationClosed(address, agent=agent, team="billing", customer_name=name, metadata=meta)
    await rt.service.handle(closed, dedup_key=f"memory:acme:close-{n}")
    if score is not None:
        await rt.service.handle(ScoreGiven(address, score), dedup_key=f"memory:acme:score-{n}")
    if comment is not None:
        await rt.service.handle(TextReceived(address, comment), dedup_key=f"memory:acme:text-{n}")


async def report(store: Store) -> dict[str, Any]:
    """Every figure the report shows, as plain data."""
    out: dict[str, Any] = {
        "summary": asdict((await summary(store)).result) | {"asked": (await summary(store)).asked},
        "distribution": await distribution(store),
        "trend": [(p, asdict(s.result), s.asked) for p, s in await trend(store)],
        "follow_up": await followup_stats(store),
    }
    for dim in DIMENSIONS:
        out[dim] = [(k, asdict(s.result), s.asked) for k, s in await breakdown(store, dim)]
    return out


async def everything(store: Store) -> str:
    """Every row of every table, as text: what a copy of the database would show."""
    parts = []
    async with store.read() as conn:
        for table in metadata.sorted_tables:
            parts += [repr(tuple(r)) for r in (await conn.execute(select(table))).all()]
    return "\n".join(parts)


async def seed(rt: Runtime, clock: FakeClock) -> None:
    """A year ago: completed surveys with comments (a detractor claimed and resolved), an expired one, an
    unanswered reply kept as text, messages sent and one dead, a journaled request given up on, a session."""
    store = rt.store
    for n in range(12):
        score = (2, 6, 8, 9, 10, None)[n % 6]
        comment = f"{OLD_COMMENT} {n}" if score is not None else None
        await survey(rt, n, score=score, comment=comment, agent=("ana", "ben")[n % 2], user=f"{OLD_USER}-{n}")
    await rt.service.handle(TextReceived(Address("memory", "acme", "c-5", f"{OLD_USER}-5"), "zanzibar maybe later"))
    clock.advance(days=2)
    await rt.service.tick()  # the unanswered ones expire
    await rt.worker.drain()
    first = (await followup.list_followups(store, ("acme",)))[0]
    await followup.claim(store, int(first["id"]), "ana", clock.now)
    await followup.resolve(store, int(first["id"]), "ana", clock.now + timedelta(hours=3))
    async with store.transaction() as conn:
        body = f'{{"text": "{OLD_COMMENT}"}}'
        entry = await journal.add(conn, "slack", "acme", body, {}, clock.now, "w", timedelta())
        await journal.give_up(conn, entry.id, "gave up")
        await sessions.add(conn, sessions.Session("h" * 64, "t" * 64, "*", clock.now, clock.now, clock.now))
        await conn.execute(
            OutboxRow.__table__.update().where(OutboxRow.__table__.c.id == 1).values(status="dead", sent_at=None)
        )


async def test_the_pass_removes_what_is_past_its_limit_and_the_report_stays_the_same(store: Store) -> None:
    clock = FakeClock()
    rt = runtime(store, clock)
    await seed(rt, clock)
    clock.advance(days=400)
    await survey(rt, 99, score=3, comment="recent and still ours", agent="ana", user="u-recent")
    before = await report(store)
    preview = await rt.retention.preview()

    counts = await rt.retention.run_due()

    assert counts is not None
    assert await report(store) == before
    # Messages and names counted apart in a preview go with their surveys and contacts in the pass.
    same = ("surveys_anonymised", "comments_removed", "contacts_deleted", "delivery_keys", "dead_requests")
    assert {k: preview[k] for k in same} == {k: counts[k] for k in same}
    assert counts["surveys_anonymised"] == 12 and counts["comments_removed"] == 11  # 10 comments + 1 unparsed reply
    assert counts["delivery_keys"] > 0 and counts["dead_requests"] == 1 and counts["expired_sessions"] == 1
    assert counts["contacts_deleted"] == 12 and counts["messages_of_surveys"] > 0
    dump = await everything(store)
    for gone in (OLD_NAME, OLD_USER, "zanzibar", "x@example.org"):
        assert gone not in dump
    async with store.read() as conn:
        old = (await conn.execute(select(S).where(S.c.conversation_id != "c-99"))).all()
        recent = (await conn.execute(select(S).where(S.c.conversation_id == "c-99"))).one()
        contacts = (await conn.execute(select(ContactRow.__table__))).all()
        keys = (await conn.execute(select(InboundKeyRow.__table__.c.key))).scalars().all()
    assert {(r.user_id, r.conversation_id, r.case_id, r.customer_name, r.comment) for r in old} == {
        (ANONYMOUS, ANONYMOUS, ANONYMOUS, None, None)
    }
    assert all(r.extra == {} and r.unparsed == [] and r.agent in ("ana", "ben") for r in old)
    assert (recent.user_id, recent.comment, recent.customer_name) == (
        "u-recent",
        "recent and still ours",
        "Recent Person",
    )
    assert [c.user_id for c in contacts] == ["u-recent"]
    assert keys and all("close-99" in k or "score-99" in k or "text-99" in k for k in keys)

    assert await rt.retention.run_due() is None  # not due again before `every`
    again = await rt.retention.run_due(force=True)
    assert again is not None and not any(again.values())  # nothing left to do
    assert await report(store) == before


async def test_comments_go_before_personal_fields_and_metadata_keys_can_be_kept(store: Store) -> None:
    clock = FakeClock()
    rt = runtime(store, clock, comments_days=30, personal_days=365, keep_metadata=["plan"])
    await seed(rt, clock)
    clock.advance(days=100)
    counts = await rt.retention.run_due()
    assert counts is not None and counts["comments_removed"] == 11 and counts["surveys_anonymised"] == 0
    async with store.read() as conn:
        rows = (await conn.execute(select(S))).all()
    assert all(r.comment is None and r.unparsed == [] for r in rows)
    assert all(r.user_id.startswith(OLD_USER) and r.customer_name for r in rows)  # not yet: 365 days
    clock.advance(days=300)
    counts = await rt.retention.run_due()
    assert counts is not None and counts["surveys_anonymised"] == 12
    async with store.read() as conn:
        rows = (await conn.execute(select(S))).all()
    assert {r.user_id for r in rows} == {ANONYMOUS} and all(r.extra == {"plan": "pro"} for r in rows)


async def test_a_survey_still_open_is_left_and_taken_once_it_has_ended(store: Store) -> None:
    clock = FakeClock()
    rt = runtime(store, clock, comments_days=1, personal_days=1)
    await survey(rt, 1, score=9, comment="done", agent="ana", user="u-done")
    await survey(rt, 2, score=None, comment=None, agent="ana", user="u-waiting")  # asked, expiry 24 h
    async with store.transaction() as conn:  # a question that waits long (an expiry set to weeks)
        await conn.execute(S.update().where(S.c.conversation_id == "c-2").values(next_check_at=None))
    clock.advance(days=3)
    await survey(rt, 3, score=8, comment="newer", agent="ana", user="u-newer")
    clock.advance(days=3)
    counts = await rt.retention.run_due()
    assert counts is not None and counts["surveys_anonymised"] == 2  # the first and the newer; not the open one
    async with store.transaction() as conn:
        await conn.execute(S.update().where(S.c.conversation_id == "c-2").values(state="expired"))
    counts = await rt.retention.run_due(force=True)
    assert counts is not None and counts["surveys_anonymised"] == 1
    async with store.read() as conn:
        assert set((await conn.execute(select(S.c.user_id))).scalars()) == {ANONYMOUS}


async def test_a_dry_run_changes_nothing(store: Store) -> None:
    clock = FakeClock()
    rt = runtime(store, clock)
    await seed(rt, clock)
    clock.advance(days=400)
    before = await everything(store)
    preview = await rt.retention.preview()
    assert preview["surveys_anonymised"] == 12 and preview["delivery_keys"] > 0
    assert await everything(store) == before


async def test_the_schedule_is_stored_and_a_crashed_holder_is_taken_over(store: Store) -> None:
    clock = FakeClock()
    rt = runtime(store, clock)
    assert await rt.retention.run_due() is not None
    assert await rt.retention.run_due() is None
    clock.advance(hours=1)
    other = RetentionPass(store, rt.profiles, rt.retention.pruning, clock, owner="other")
    assert await other.run_due() is not None  # due again after `every`, whichever worker looks
    clock.advance(hours=1)
    async with store.transaction() as conn:  # a worker takes its turn and dies
        assert await chores.claim_chore(conn, CHORE, "crashed", clock.now, rt.retention.pruning.lease) is not None
    assert await other.run_due() is None
    clock.advance(minutes=6)  # the lease (5 min) ran out
    assert await other.run_due() is not None


async def test_the_worker_runs_the_pass_as_its_chore(store: Store) -> None:
    clock = FakeClock()
    rt = runtime(store, clock)
    task = asyncio.create_task(rt.worker.run())
    try:
        for _ in range(500):
            async with store.read() as conn:
                row = await chores.chore(conn, CHORE)
            if row is not None and row["last_finished_at"] is not None:
                break
            await asyncio.sleep(0.02)
    finally:
        rt.worker.stop()
        await task
    assert row is not None and row["last_finished_at"] is not None and row["leased_by"] is None


async def test_two_workers_on_postgresql_run_the_pass_once(pg_store: Store) -> None:
    clock = FakeClock()
    rt = runtime(pg_store, clock)
    await seed(rt, clock)
    clock.advance(days=400)
    a = RetentionPass(pg_store, rt.profiles, rt.retention.pruning, clock, owner="a")
    b = RetentionPass(pg_store, rt.profiles, rt.retention.pruning, clock, owner="b")
    results = await asyncio.gather(a.run_due(), b.run_due(), a.run_due(), b.run_due())
    ran = [r for r in results if r is not None]
    assert len(ran) == 1 and ran[0]["surveys_anonymised"] == 12
    async with pg_store.read() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM chores"))).scalar() == 1
