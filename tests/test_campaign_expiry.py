"""A campaign's own `expiry:`: read from the YAML file into Policy.campaign_expiry, and on both backends a campaign's
question stays open that long while a transactional one of the same profile expires after the profile's expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bots.config import ConfigError, parse_config
from core.campaign_run import CampaignJob
from core.scheduler import Scheduler
from core.service import SurveyService
from core.store import Store, reachability
from core.store.tables import SurveyRow
from core.survey import Kind, Policy, State, Survey
from core.types import Address, ConversationClosed
from tests.conftest import FakeClock

S = SurveyRow.__table__
WEBHOOK = {"secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def config(**campaign: Any) -> dict[str, Any]:
    written = {"name": "quarterly", "schedule": "0 9 * * MON", "channels": ["webhook"], "send_window": "1h"}
    profile = {"brand": "Acme", "channels": {"webhook": WEBHOOK}, "campaigns": [written | campaign]}
    return {"profiles": {"acme": profile | {"policy": {"expiry": "1d", "reminder": "20h"}}}}


def test_a_campaign_expiry_reaches_the_policy() -> None:
    policy = parse_config(config(expiry="7d"), env={}).profile_settings()["acme"].policy
    assert policy.campaign_expiry == {"quarterly": timedelta(days=7)}
    assert (policy.expiry_of("quarterly"), policy.expiry_of(None), policy.expiry_of("other")) == (
        timedelta(days=7), timedelta(days=1), timedelta(days=1)
    )  # fmt: skip
    assert parse_config(config(), env={}).profile_settings()["acme"].policy.campaign_expiry == {}


@pytest.mark.parametrize("expiry", ["0s", "soon"])
def test_a_campaign_expiry_must_be_a_positive_duration(expiry: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(config(expiry=expiry), env={})
    assert [p for p in exc.value.problems if p.startswith("profiles.acme.campaigns[0].expiry")], exc.value.problems


def test_next_deadline_reads_the_campaign_expiry() -> None:
    policy = Policy(expiry=timedelta(days=1), campaign_expiry={"quarterly": timedelta(days=7)})
    asked = Survey(Address("webhook", "acme", "u", "u"), State.ASKED, "en", NOW, asked_at=NOW)
    relational = Survey(asked.address, State.ASKED, "en", NOW, asked_at=NOW, kind=Kind.RELATIONAL, campaign="quarterly")
    assert asked.next_deadline(policy) == NOW + timedelta(days=1)
    assert relational.next_deadline(policy) == NOW + timedelta(days=7)


async def rows(store: Store) -> dict[str, Any]:
    async with store.read() as conn:
        return {r.kind: r for r in (await conn.execute(select(S))).all()}


async def test_a_campaign_question_stays_open_for_its_campaign_expiry(store: Store) -> None:
    clock = FakeClock(NOW)
    profile = parse_config(config(expiry="7d"), env={}).profile_settings()["acme"]
    service = SurveyService(store, {"acme": profile}, clock)
    async with store.transaction() as conn:
        await reachability.touch_contact(conn, Address("webhook", "acme", "ana", "ana"), updated_at=NOW)
    job = CampaignJob(store, profile, profile.campaigns[0], clock)
    assert (await Scheduler(store, [job], clock).run_job(job, force=True) or {}).get("created") == 1
    await service.handle(ConversationClosed(Address("webhook", "acme", "chat-1", "bo")))

    clock.advance(hours=1)
    await service.tick()  # the campaign's question goes out
    clock.advance(days=1)
    await service.tick()
    got = await rows(store)
    assert (got["transactional"].state, got["relational"].state) == ("expired", "asked")
    # The one reminder (20h after the question) went out while the campaign's question was open.
    assert got["relational"].reminded_at is not None
    clock.advance(days=6)
    await service.tick()
    got = await rows(store)
    assert got["relational"].state == "expired"
    assert got["relational"].completed_at.replace(tzinfo=UTC) == clock()
