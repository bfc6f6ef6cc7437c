"""A survey stored before its question is due (a campaign's, spread over its send window; a delayed transactional
one) is checked again when the question is due, on both backends: someone who opted out, became unreachable, was
erased or was asked another survey meanwhile is skipped, not asked, and the delivery report counts the skip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from core.campaign_run import CampaignJob
from core.campaigns import Campaign
from core.profiles import ProfileSettings
from core.reports import Filters
from core.reports.delivery import skipped_by_reason
from core.scheduler import Scheduler
from core.schedules import Schedule
from core.service import SurveyService
from core.store import Store, installations, reachability
from core.store import privacy as privacy_q
from core.store.tables import OutboxRow, SurveyRow
from core.suppression import SuppressionKeys, digest
from core.survey import Policy
from core.types import Address, ConversationClosed, OptOut
from tests.conftest import FakeClock
from tests.test_rollups_agree import agree

S = SurveyRow.__table__
OB = OutboxRow.__table__
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WINDOW = timedelta(days=2)


def settings(**policy: Any) -> ProfileSettings:
    campaign = Campaign(
        name="quarterly", schedule=Schedule.parse("0 9 * * MON"), channels=("webhook",), send_window=WINDOW
    )
    return ProfileSettings("acme", Policy(brand="Acme", **policy), campaigns=(campaign,))


def address(user: str, conversation: str | None = None) -> Address:
    return Address("webhook", "acme", conversation or user, user)


async def campaign_run(store: Store, profile: ProfileSettings, clock: FakeClock, people: list[str]) -> None:
    """The people's contacts, then the campaign's run: one pending relational survey each, due within the window."""
    async with store.transaction() as conn:
        for user in people:
            await reachability.touch_contact(conn, address(user), updated_at=clock())
    job = CampaignJob(store, profile, profile.campaigns[0], clock)
    counts = await Scheduler(store, [job], clock).run_job(job, force=True)
    assert counts is not None and counts["created"] == len(people)


async def surveys(store: Store) -> list[Any]:
    async with store.read() as conn:
        return list((await conn.execute(select(S).order_by(S.c.id))).all())


async def test_pending_relational_surveys_are_checked_when_due(store: Store) -> None:
    clock = FakeClock(NOW)
    profile = settings()
    keys = SuppressionKeys()
    service = SurveyService(store, {"acme": profile}, clock, keys)
    await campaign_run(store, profile, clock, ["asked", "left", "helped", "erased", "gone"])

    clock.advance(hours=3)
    # "left" opts out in a support chat; "helped" closes a conversation and is asked about it at once (the
    # throttle, shared by both kinds); "erased" goes on the suppression list; "gone" can't be messaged any more.
    assert (await service.handle(OptOut(address("left", "support-1")))).status == "ok"
    closed = await service.handle(ConversationClosed(address("helped", "support-2")))
    assert closed.survey is not None and closed.survey.state == "asked"
    async with store.transaction() as conn:
        key = await keys.for_new(conn, clock())
        await privacy_q.suppress(conn, [(digest(key, "acme", "webhook", "erased"), "acme", "webhook")], clock())
        await reachability.touch_contact(conn, address("gone"), unreachable_at=clock())

    clock.advance(days=2)  # past the send window: every campaign question is due
    assert await service.tick() == 6  # the five campaign questions, and the support chat's question expiring
    relational = {r.user_id: r for r in await surveys(store) if r.kind == "relational"}
    assert relational["asked"].state == "asked"
    assert (relational["left"].state, relational["left"].skip_reason) == ("skipped", "opted_out")
    assert (relational["helped"].state, relational["helped"].skip_reason) == ("skipped", "throttled")
    assert (relational["gone"].state, relational["gone"].skip_reason) == ("skipped", "unreachable")
    erased = [r for user, r in relational.items() if user.startswith("anon:")]
    assert [(r.state, r.skip_reason, r.customer_name) for r in erased] == [("skipped", "suppressed", None)]
    assert all(r.next_check_at is None and r.completed_at is not None for r in relational.values() if r.skip_reason)
    skips = await skipped_by_reason(store, Filters(kind="relational"))
    assert skips == {"webhook": {"opted_out": 1, "throttled": 1, "suppressed": 1, "unreachable": 1}}
    await agree(store, "skipped when due")  # the report rollups followed every skip


async def test_a_survey_asked_in_the_same_pass_throttles_the_next(store: Store) -> None:
    """A delayed transactional survey and a campaign's, both due in one tick: the first is asked, the second sees
    that ask (the contacts were read before it) and is skipped as throttled."""
    clock = FakeClock(NOW)
    profile = settings(send_delay=timedelta(minutes=5))
    service = SurveyService(store, {"acme": profile}, clock)
    await campaign_run(store, profile, clock, ["both"])
    closed = await service.handle(ConversationClosed(address("both", "support-3")))
    assert closed.survey is not None and closed.survey.state == "pending"

    clock.advance(days=3)
    assert await service.tick() == 2
    rows = await surveys(store)
    by_kind = {r.kind: (r.state, r.skip_reason) for r in rows}
    asked = [kind for kind, (state, _) in by_kind.items() if state == "asked"]
    assert len(asked) == 1 and sorted(by_kind.values()) == [("asked", None), ("skipped", "throttled")]
    await agree(store, "throttled in the same pass")


async def test_a_survey_is_not_throttled_by_its_own_ask_or_by_an_ask_before_it_was_due(store: Store) -> None:
    """A campaign's survey whose person was asked long ago (beyond the throttle window) is asked; once asked, the
    tick that expires it does not read its own ask as a reason to skip it."""
    clock = FakeClock(NOW)
    profile = settings(throttle=timedelta(days=1), expiry=timedelta(hours=4))
    service = SurveyService(store, {"acme": profile}, clock)
    async with store.transaction() as conn:
        await reachability.touch_contact(conn, address("old"), last_surveyed_at=NOW - timedelta(days=2))
    await campaign_run(store, profile, clock, ["old"])
    clock.advance(days=2)
    assert await service.tick() == 1
    [row] = await surveys(store)
    assert (row.state, row.asked_at.replace(tzinfo=UTC)) == ("asked", clock())
    clock.advance(hours=4)
    assert await service.tick() == 1
    [row] = await surveys(store)
    assert (row.state, row.skip_reason) == ("expired", None)


async def test_a_delayed_transactional_survey_is_checked_when_due(store: Store) -> None:
    clock = FakeClock(NOW)
    service = SurveyService(store, {"acme": settings(send_delay=timedelta(minutes=30))}, clock)
    closed = await service.handle(ConversationClosed(address("cy", "support-4")))
    assert closed.survey is not None and closed.survey.state == "pending"
    clock.advance(minutes=10)
    assert (await service.handle(OptOut(address("cy", "support-5")))).status == "ok"  # in another conversation
    clock.advance(minutes=20)
    assert await service.tick() == 1
    [row] = await surveys(store)
    assert (row.kind, row.state, row.skip_reason, row.asked_at) == ("transactional", "skipped", "opted_out", None)
    async with store.read() as conn:  # nothing was queued for the customer
        assert (await conn.execute(select(OB.c.id).where(OB.c.survey_id == row.id))).first() is None
    assert await skipped_by_reason(store, Filters(kind="transactional")) == {"webhook": {"opted_out": 1}}


async def test_a_campaign_survey_in_a_workspace_that_removed_the_app_is_skipped_when_due(store: Store) -> None:
    """The campaign reaches the contact in the workspace it was last seen in; the app was removed there meanwhile."""
    clock = FakeClock(NOW)
    profile = settings()
    service = SurveyService(store, {"acme": profile}, clock)
    async with store.transaction() as conn:
        await reachability.touch_contact(conn, address("dee"), workspace="T1")
        await reachability.touch_contact(conn, address("eve"), workspace="T2")
    await installations.remove(store, "webhook", "acme", "T1", "app_uninstalled", NOW - timedelta(days=1))
    await campaign_run(store, profile, clock, ["dee", "eve"])
    clock.advance(days=3)
    assert await service.tick() == 2
    got = {r.user_id: (r.workspace, r.state, r.skip_reason) for r in await surveys(store)}
    assert got == {"dee": ("T1", "skipped", "uninstalled"), "eve": ("T2", "asked", None)}
