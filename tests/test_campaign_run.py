"""A campaign's run over 10,000 contacts on both backends (contacts generated set-based, see bench/campaign_bench.py):
one pending survey per person per period, on the person's preferred reachable channel, whether the period is run
once, twice, or crashes half-way and is resumed; and `npsbot campaigns` listing, previewing and running it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bench.campaign_bench import NOW, PROFILE, campaign, fill, settings
from bots.campaigns_cli import campaigns
from bots.config import parse_config
from core.campaign_run import CampaignJob
from core.scheduler import Scheduler, Turn
from core.store import Store
from core.store import privacy as privacy_q
from core.store.tables import SurveyRow
from core.suppression import SuppressionKeys, digest
from tests.conftest import FakeClock
from tests.webhook_campaign import quarterly_config

S = SurveyRow.__table__
CONTACTS = 10_000


def expected(n: int) -> dict[str, Any]:
    """What the campaign must decide about the people bench.campaign_bench.fill generates (see its rules)."""
    channel: dict[str, str] = {}
    outcomes = {"outside": 0, "opted_out": 0, "throttled": 0, "due": 0}
    for i in range(1, n + 1):
        if i % 4 == 0:
            outcomes["outside"] += 1
        elif i % 10 == 0:
            outcomes["due"] += 1
            channel[f"p{i}"] = "webhook" if i % 30 == 0 else "telegram"
        elif i % 50 == 1:
            outcomes["opted_out"] += 1
        elif i % 20 == 3:
            outcomes["throttled"] += 1
        else:
            outcomes["due"] += 1
            channel[f"u{i}"] = "webhook"
    return {"outcomes": outcomes, "channel": channel}


async def surveys(store: Store) -> list[Any]:
    async with store.read() as conn:
        return list((await conn.execute(select(S))).all())


def person(row: Any) -> str:
    return row.user_id if row.channel == "webhook" and not row.user_id.endswith("0") else f"p{row.user_id[1:]}"


def check(rows: list[Any], n: int) -> None:
    want = expected(n)
    assert len(rows) == want["outcomes"]["due"]
    assert len({r.case_key for r in rows}) == len({person(r) for r in rows}) == len(rows)
    assert {person(r): r.channel for r in rows} == want["channel"]
    assert {(r.kind, r.campaign, r.state) for r in rows} == {("relational", "quarterly", "pending")}
    assert {r.variant for r in rows} == {"short", "long"}
    window = campaign().send_window
    assert all(NOW <= r.due_at.replace(tzinfo=UTC) < NOW + window for r in rows)
    assert all(r.next_check_at == r.due_at and r.conversation_id == r.user_id for r in rows)
    days = [(r.due_at.replace(tzinfo=UTC) - NOW) // timedelta(days=1) for r in rows]
    assert min(days.count(d) for d in range(3)) > len(rows) / 3 * 0.9  # spread, not a burst


async def test_one_survey_per_person_per_period_even_when_run_twice(store: Store) -> None:
    await fill(store, CONTACTS)
    clock = FakeClock(NOW - timedelta(hours=1))
    job = CampaignJob(store, settings(), campaign(), clock)
    scheduler = Scheduler(store, [job], clock)
    assert await scheduler.run_due() == {}  # registered: first due at the next Monday 09:00 in Madrid
    clock.now = NOW
    counts = (await scheduler.run_due())[job.name]
    want = expected(CONTACTS)["outcomes"]
    assert {k: counts[k] for k in want} == want and counts["created"] == want["due"]
    check(await surveys(store), CONTACTS)
    first = {r.case_key: (r.id, r.due_at, r.variant) for r in await surveys(store)}

    clock.advance(hours=2)
    again = await scheduler.run_job(job, force=True)  # the same period, run again by hand
    assert again is not None and again["due"] == want["due"] and again["created"] == 0
    assert {r.case_key: (r.id, r.due_at, r.variant) for r in await surveys(store)} == first


async def test_a_run_that_crashes_mid_way_resumes_without_asking_anyone_twice(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 4000
    await fill(store, n)
    clock = FakeClock(NOW - timedelta(hours=1))
    job = CampaignJob(store, settings(), campaign(), clock, batch=500)
    scheduler = Scheduler(store, [job], clock)
    await scheduler.run_due()  # registered, due at NOW
    clock.now = NOW
    keep = Turn.keep
    kept: list[dict[str, Any]] = []

    async def dies_after_the_third_batch(turn: Turn, progress: dict[str, Any]) -> None:
        if len(kept) == 2:  # the third batch's surveys are stored, its progress is not
            raise RuntimeError("worker killed")
        kept.append(progress)
        await keep(turn, progress)

    monkeypatch.setattr(Turn, "keep", dies_after_the_third_batch)
    assert await scheduler.run_due() == {}  # the failure is logged and the turn given back
    stored_before = len(await surveys(store))
    assert 0 < stored_before < expected(n)["outcomes"]["due"]
    monkeypatch.setattr(Turn, "keep", keep)

    clock.advance(minutes=1)
    counts = await scheduler.run_due()  # the occurrence is still due: resumed from the second batch's end
    resumed = counts[job.name]
    check(await surveys(store), n)
    # The kept counts of two batches plus this attempt's: the third batch is decided again (counted once), and
    # what it stored before the crash is found taken, not created again.
    due = expected(n)["outcomes"]["due"]
    orphaned = stored_before - kept[-1]["counts"]["created"]
    assert orphaned > 0 and resumed["due"] == due and resumed["created"] == due - orphaned
    done = await job.stored()
    assert done is not None and done["last_counts"] == resumed and "progress" not in done["state"]


async def test_the_cli_lists_previews_and_runs_a_campaign(store: Store) -> None:
    await fill(store, 300)
    cfg = parse_config(quarterly_config(store.url), env={})
    clock = FakeClock(NOW + timedelta(days=1))

    async def cli(action: str, name: str | None = None, force: bool = False) -> str:
        return await campaigns(cfg, store.url, action, name, force, clock)

    listed = await cli("list")
    assert "acme/quarterly" in listed and "0 9 * * MON" in listed and "2026-03-09 08:00" in listed
    preview = await cli("preview", "quarterly")
    assert "the period of 2026-03-02 08:00" in preview
    async with store.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(S))).scalar_one() == 0  # a preview stores nothing
    ran = await cli("run", "acme/quarterly")
    assert "not due until 2026-03-09 08:00" in ran
    ran = await cli("run", "quarterly", force=True)
    stored = len(await surveys(store))
    assert stored > 0 and figure(ran, "due (asked") == figure(ran, "surveys created") == figure(preview, "due (asked")
    assert figure(ran, "due (asked") == stored
    assert figure(preview, "opted out") == figure(ran, "opted out") > 0
    with pytest.raises(LookupError, match="is not a campaign"):
        await cli("preview", "yearly")
    assert "next due" in await cli("list")


def figure(output: str, label: str) -> int:
    [line] = [line for line in output.splitlines() if label in line]
    return int(line.split()[0])


async def test_contacts_of_other_profiles_are_left_alone(store: Store) -> None:
    await fill(store, 200, profile="other")
    clock = FakeClock(NOW)
    job = CampaignJob(store, settings(), campaign(), clock)
    counts = await Scheduler(store, [job], clock).run_job(job, force=True)
    assert counts is not None and counts["due"] == counts["created"] == 0
    assert await surveys(store) == []


def test_expected_counts_cover_every_rule() -> None:
    want = expected(600)["outcomes"]
    assert all(want.values()) and sum(want.values()) == 600
    assert datetime(2026, 3, 2, tzinfo=UTC).weekday() == 0  # NOW is a Monday's occurrence


async def test_a_person_on_the_suppression_list_is_never_asked(store: Store) -> None:
    await fill(store, 40)
    keys = SuppressionKeys([b"configured-key"])
    async with store.transaction() as conn:
        listed = [
            (digest(await keys.for_new(conn, NOW), PROFILE, "webhook", f"u{i}"), PROFILE, "webhook") for i in (2, 5)
        ]
        await privacy_q.suppress(conn, listed, NOW)
    clock = FakeClock(NOW)
    job = CampaignJob(store, settings(), campaign(), clock, keys)
    counts = await Scheduler(store, [job], clock).run_job(job, force=True)
    assert counts is not None and counts["suppressed"] == 2
    asked = {r.user_id for r in await surveys(store)}
    assert not asked & {"u2", "u5"} and len(asked) == counts["due"] == expected(40)["outcomes"]["due"] - 2
