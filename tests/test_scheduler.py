"""Jobs on stored schedules (core/schedules.py, core/scheduler.py): once per occurrence with two schedulers on one
PostgreSQL database, a stalled run taken over and resumed from its kept progress, downtime collapsing into one
run, a run by hand that skips nothing, and cron occurrences across DST changes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.scheduler import LeaseLost, Scheduler, Turn
from core.schedules import Schedule, zone
from core.store import Store, chores
from tests.conftest import FakeClock

MADRID = zone("Europe/Madrid")
START = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # a Monday, 08:00 in Madrid


class Recorder:
    """A job that records the occurrences it served; `hold` makes a run wait there (a slow or stalled worker)."""

    def __init__(self, text: str = "0 9 * * MON", tz: ZoneInfo = MADRID, name: str = "digest:acme") -> None:
        self.name, self.schedule, self.tz = name, Schedule.parse(text), tz
        self.served: list[tuple[datetime, dict[str, Any]]] = []
        self.hold: asyncio.Event | None = None
        self.steps = 3

    async def run(self, turn: Turn) -> dict[str, int]:
        self.served.append((turn.occurrence.at, turn.progress))
        done = int(turn.progress.get("done", 0))
        while done < self.steps:
            done += 1
            await turn.keep({"done": done})
            if self.hold is not None:
                await self.hold.wait()
        return {"done": done}


async def stored(store: Store, name: str) -> dict[str, Any]:
    async with store.transaction() as conn:
        row = await chores.chore(conn, name)
    assert row is not None
    return row


def utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


async def test_first_due_at_the_next_occurrence_then_once(store: Store) -> None:
    clock, job = FakeClock(START), Recorder()
    scheduler = Scheduler(store, [job], clock)
    assert await scheduler.run_due() == {}
    assert utc((await stored(store, job.name))["due_at"]) == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    clock.advance(hours=1)
    assert await scheduler.run_due() == {job.name: {"done": 3}}
    assert await scheduler.run_due() == {}
    row = await stored(store, job.name)
    assert utc(row["due_at"]) == datetime(2026, 3, 9, 8, 0, tzinfo=UTC) and row["last_counts"] == {"done": 3}
    assert [at for at, _ in job.served] == [datetime(2026, 3, 2, 8, 0, tzinfo=UTC)]


async def test_downtime_collapses_into_the_latest_occurrence(store: Store) -> None:
    clock, job = FakeClock(START), Recorder()
    scheduler = Scheduler(store, [job], clock)
    await scheduler.run_due()
    clock.advance(days=70)  # ten Mondays missed
    assert list(await scheduler.run_due()) == [job.name]
    latest = datetime(2026, 5, 11, 7, 0, tzinfo=UTC)  # 09:00 in Madrid, now summer time
    assert [at for at, _ in job.served] == [latest]
    assert await scheduler.run_due() == {}
    assert utc((await stored(store, job.name))["due_at"]) == latest + timedelta(days=7)


async def test_a_forced_run_serves_the_past_occurrence_and_skips_none(store: Store) -> None:
    clock, job = FakeClock(START + timedelta(days=2)), Recorder()
    scheduler = Scheduler(store, [job], clock)
    await scheduler.run_due()
    due = utc((await stored(store, job.name))["due_at"])
    assert due == datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
    assert await scheduler.run_job(job) is None  # not due
    assert await scheduler.run_job(job, force=True) == {"done": 3}
    assert [at for at, _ in job.served] == [datetime(2026, 3, 2, 8, 0, tzinfo=UTC)]
    assert utc((await stored(store, job.name))["due_at"]) == due  # next Monday still runs


async def test_a_failed_run_resumes_from_its_progress(store: Store) -> None:
    clock, job = FakeClock(START + timedelta(hours=1)), Recorder("every 1d", UTC)

    class Failing(Recorder):
        async def run(self, turn: Turn) -> dict[str, int]:
            await turn.keep({"done": 2})
            raise RuntimeError("the platform went away")

    failing = Failing("every 1d", UTC, name=job.name)
    assert await Scheduler(store, [failing], clock).run_due() == {}  # logged, the turn given back
    assert await Scheduler(store, [job], clock).run_due() == {job.name: {"done": 3}}
    [(at, progress)] = job.served
    assert at == START + timedelta(hours=1) and progress == {"done": 2}


async def test_a_forced_run_that_fails_is_resumed_at_the_next_look(store: Store) -> None:
    clock, job = FakeClock(START + timedelta(days=2)), Recorder()

    class Failing(Recorder):
        async def run(self, turn: Turn) -> dict[str, int]:
            await turn.keep({"done": 1})
            raise RuntimeError("the database went away")

    await Scheduler(store, [job], clock).run_due()
    next_due = utc((await stored(store, job.name))["due_at"])
    failing = Failing(name=job.name)
    with pytest.raises(RuntimeError):
        await Scheduler(store, [failing], clock).run_job(failing, force=True)
    assert await Scheduler(store, [job], clock).run_due() == {job.name: {"done": 3}}
    [(at, progress)] = job.served
    assert at == datetime(2026, 3, 2, 8, 0, tzinfo=UTC) and progress == {"done": 1}
    assert utc((await stored(store, job.name))["due_at"]) == next_due


async def test_a_stalled_worker_is_taken_over_and_loses_its_turn(store: Store) -> None:
    clock = FakeClock(START)
    stalled, healthy = Recorder(), Recorder()
    stalled.hold = asyncio.Event()
    first = Scheduler(store, [stalled], clock, owner="a", lease=timedelta(minutes=5))
    second = Scheduler(store, [healthy], clock, owner="b", lease=timedelta(minutes=5))
    await first.run_due()  # registered: due at 08:00 UTC
    clock.advance(hours=1)
    task = asyncio.create_task(first.run_job(stalled))
    for _ in range(500):
        if stalled.served and (await stored(store, stalled.name))["state"].get("progress"):
            break
        await asyncio.sleep(0.01)
    assert stalled.served, "the first worker never started"
    assert await second.run_due() == {}  # the lease holds
    clock.advance(minutes=6)
    assert await second.run_due() == {healthy.name: {"done": 3}}
    [(at, progress)] = healthy.served
    assert at == datetime(2026, 3, 2, 8, 0, tzinfo=UTC) and progress == {"done": 1}
    stalled.hold.set()
    with pytest.raises(LeaseLost):
        await task
    assert (await stored(store, stalled.name))["last_counts"] == {"done": 3}


@pytest.mark.postgres
async def test_two_schedulers_on_postgresql_run_each_occurrence_once(pg_store: Store) -> None:
    clock = FakeClock(START)
    other = Store(pg_store.url)
    try:
        jobs = [Recorder(), Recorder()]
        for job in jobs:
            job.steps = 20
        schedulers = [Scheduler(s, [j], clock) for s, j in zip((pg_store, other), jobs, strict=True)]
        await asyncio.gather(*(s.run_due() for s in schedulers))
        for week in range(3):
            clock.now = START + timedelta(days=7 * week, hours=1)
            results = await asyncio.gather(*(s.run_due() for s in schedulers))
            assert sorted(len(r) for r in results) == [0, 1]
        served = sorted(at for job in jobs for at, _ in job.served)
        assert served == [datetime(2026, 3, 2 + 7 * w, 8, 0, tzinfo=UTC) for w in range(3)]
    finally:
        await other.dispose()


def test_schedules_parse_and_refuse_with_a_reason() -> None:
    assert Schedule.parse("every 90d").every == timedelta(days=90)
    assert Schedule.parse(" 0  9 * *  MON ").cron == "0 9 * * MON"
    for bad, why in (("every 1m", "at least"), ("0 9 * *", "five fields"), ("0 25 * * *", "0 25")):
        with pytest.raises(ValueError, match=why):
            Schedule.parse(bad)
    with pytest.raises(ValueError, match="IANA"):
        zone("Mars/Olympus")


ZONES = st.sampled_from(["Europe/Madrid", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"])
CRONS = st.sampled_from(["0 9 * * MON", "30 2 * * *", "0 0 1 * *", "15 1 * * SUN", "0 9 1 1,4,7,10 *"])
INSTANTS = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))


@settings(max_examples=150, deadline=None)
@given(CRONS, ZONES, INSTANTS, st.integers(min_value=0, max_value=400 * 24))
def test_cron_occurrences_across_dst(text: str, name: str, after: datetime, hours_late: int) -> None:
    schedule, tz = Schedule.parse(text), zone(name)
    nxt = schedule.next_after(after, tz)
    assert nxt > after
    assert schedule.at_or_before(nxt, tz) == nxt  # an occurrence is its own latest
    before = schedule.at_or_before(after, tz)
    assert before <= after < schedule.next_after(before, tz) == nxt
    assert schedule.previous(nxt, tz) == before
    # The wall clock in the zone is the cron's, except in a gap a DST change skips (then cron runs it late).
    minute, hour = (int(x) for x in text.split()[:2])
    local = nxt.astimezone(tz)
    if (local.hour, local.minute) != (hour, minute):
        assert local.utcoffset() != (local - timedelta(hours=3)).utcoffset()
    now = nxt + timedelta(hours=hours_late)
    latest = schedule.latest(nxt, now, tz)
    assert latest <= now < schedule.next_after(latest, tz)


@settings(max_examples=100, deadline=None)
@given(INSTANTS, st.integers(min_value=1, max_value=200), st.integers(min_value=0, max_value=10_000))
def test_intervals_stay_on_their_grid(anchor: datetime, days: int, hours_late: int) -> None:
    schedule = Schedule.parse(f"every {days}d")
    now = anchor + timedelta(hours=hours_late)
    latest = schedule.latest(anchor, now, UTC, anchor)
    assert latest <= now < latest + schedule.every
    assert (latest - anchor) % schedule.every == timedelta(0)
    assert schedule.at_or_before(now, UTC, anchor) == latest
    assert schedule.next_after(latest, UTC, anchor) == latest + schedule.every


def test_a_daily_cron_in_madrid_keeps_its_wall_clock_over_both_changes() -> None:
    schedule = Schedule.parse("0 9 * * *")
    at = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)
    seen = []
    for _ in range(3):
        at = schedule.next_after(at, MADRID)
        seen.append(at)
    assert [a.astimezone(MADRID).hour for a in seen] == [9, 9, 9]
    assert [a.hour for a in seen] == [8, 7, 7]  # 28 March in CET; summer time (CEST) begins 29 March at 02:00
    spring_gap = Schedule.parse("30 2 * * *").next_after(datetime(2026, 3, 28, 12, 0, tzinfo=UTC), MADRID)
    assert spring_gap.astimezone(MADRID).date().day == 29  # 02:30 does not exist that night; it still runs once
    autumn = Schedule.parse("30 2 * * *")
    first = autumn.next_after(datetime(2026, 10, 24, 12, 0, tzinfo=UTC), MADRID)
    second = autumn.next_after(first, MADRID)
    assert second - first >= timedelta(hours=24)  # 02:30 happens twice on 25 October; cron runs it once


async def settled(condition: Any, message: str) -> None:
    """Wait (a bounded number of event-loop turns, not a time) until `condition()` holds."""
    for _ in range(2000):
        if await condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(message)


async def test_a_slow_job_does_not_hold_up_another_jobs_occurrence(store: Store) -> None:
    """A campaign that takes long (held here until released) while a digest falls due twice: the worker's chore
    runs both digest occurrences meanwhile; the campaign then finishes its own occurrence."""
    clock = FakeClock(START)
    campaign = Recorder("0 9 * * MON", name="campaign:acme:quarterly")
    digest = Recorder("0 * * * *", tz=ZoneInfo("UTC"), name="digest:acme")
    campaign.hold = asyncio.Event()
    scheduler = Scheduler(store, [campaign, digest], clock)
    await scheduler.run_due()  # registered: the campaign due at 08:00 UTC, the digest every hour
    clock.advance(hours=1, minutes=1)
    stop = asyncio.Event()
    chore = asyncio.create_task(scheduler.run(stop, check_every=0.01))
    try:

        async def digest_ran(times: int) -> bool:
            return len(digest.served) == times and (await stored(store, digest.name))["last_counts"] == {"done": 3}

        await settled(lambda: digest_ran(1), "the digest waited for the campaign")
        assert len(campaign.served) == 1 and (await stored(store, campaign.name))["last_counts"] == {}
        clock.advance(hours=1)
        await settled(lambda: digest_ran(2), "the digest's next occurrence waited for the campaign")
        assert [at for at, _ in digest.served] == [START + timedelta(hours=1), START + timedelta(hours=2)]
        assert len(campaign.served) == 1  # still the one run: a job running here is not started again
        campaign.hold.set()

        async def campaign_ran() -> bool:
            return (await stored(store, campaign.name))["last_counts"] == {"done": 3}

        await settled(campaign_ran, "the campaign never finished")
    finally:
        campaign.hold.set()
        stop.set()
        await chore
    assert [at for at, _ in campaign.served] == [datetime(2026, 3, 2, 8, 0, tzinfo=UTC)]


async def test_one_failing_job_does_not_stop_the_others_running_at_once(store: Store) -> None:
    class Failing(Recorder):
        async def run(self, turn: Turn) -> dict[str, int]:
            raise RuntimeError("the campaign's database went away")

    clock = FakeClock(START)
    failing, job = Failing(name="campaign:acme:broken"), Recorder()
    scheduler = Scheduler(store, [failing, job], clock)
    await scheduler.run_due()
    clock.advance(hours=1)
    assert await scheduler.run_due() == {job.name: {"done": 3}}
    assert utc((await stored(store, failing.name))["due_at"]) == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # retried
