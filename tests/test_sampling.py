"""Sampling of transactional surveys: a contact's choice is fixed for the period (retries and replays make the same
one), about the rate over many contacts, applied after the other skip reasons, and counted in the report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.memory import MemoryChannel
from bots.config import ConfigError, parse_config
from core.profiles import ProfileSettings
from core.reports import summary
from core.reports.delivery import skipped_by_reason
from core.sampling import period_index, sampled
from core.service import SurveyService
from core.store import Store
from core.survey import ContactStatus, Policy, SkipReason, State, start
from core.types import Address, ConversationClosed

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
DAY = timedelta(days=1)


def closed(user: str, conversation: str = "c1") -> ConversationClosed:
    return ConversationClosed(Address("memory", "acme", conversation, user))


def test_the_choice_is_the_same_every_time_and_bounded_by_the_rate() -> None:
    assert all(sampled(1.0, "acme", "memory", f"u{i}", 7) for i in range(100))
    assert not any(sampled(0.0, "acme", "memory", f"u{i}", 7) for i in range(100))
    first = [sampled(0.3, "acme", "memory", f"u{i}", 7) for i in range(200)]
    assert first == [sampled(0.3, "acme", "memory", f"u{i}", 7) for i in range(200)]
    # A contact in a lower rate's sample is in every higher rate's sample.
    assert all(
        sampled(0.5, "acme", "memory", f"u{i}", 7) for i in range(200) if sampled(0.2, "acme", "memory", f"u{i}", 7)
    )
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            sampled(bad, "acme", "memory", "u1", 7)


@pytest.mark.parametrize("rate", [0.05, 0.3, 0.5, 0.9])
def test_about_the_rate_of_many_contacts_is_sampled_and_periods_choose_afresh(rate: float) -> None:
    n = 20_000
    this = [sampled(rate, "acme", "memory", f"user-{i}", 100) for i in range(n)]
    following = [sampled(rate, "acme", "memory", f"user-{i}", 101) for i in range(n)]
    assert sum(this) / n == pytest.approx(rate, abs=0.015)
    assert sum(following) / n == pytest.approx(rate, abs=0.015)
    # The next period's choice is independent of this one's: being left out once does not mean always.
    both = sum(a and b for a, b in zip(this, following, strict=True))
    assert both / n == pytest.approx(rate * rate, abs=0.015)
    # Another profile or channel samples its own contacts.
    other = [sampled(rate, "acme", "telegram", f"user-{i}", 100) for i in range(n)]
    assert sum(a and b for a, b in zip(this, other, strict=True)) / n == pytest.approx(rate * rate, abs=0.015)


def test_period_index_is_shared_by_every_instant_of_a_period() -> None:
    period = timedelta(days=30)
    start_of = datetime(1970, 1, 1, tzinfo=UTC) + 700 * period
    assert period_index(start_of, period) == 700
    assert period_index(start_of + period - timedelta(microseconds=1), period) == 700
    assert period_index(start_of + period, period) == 701
    with pytest.raises(ValueError, match="longer than 0s"):
        period_index(NOW, timedelta(0))


@given(st.text(min_size=1, max_size=40), st.integers(0, 29 * 24 * 3600), st.integers(0, 29 * 24 * 3600))
def test_a_retry_or_replay_in_the_same_period_makes_the_same_choice(user: str, first: int, second: int) -> None:
    policy = Policy(sample=0.4, sample_period=timedelta(days=30))
    begins = datetime(1970, 1, 1, tzinfo=UTC) + 700 * timedelta(days=30)
    a, _ = start(closed(user), ContactStatus(), policy, begins + timedelta(seconds=first))
    b, _ = start(closed(user, "c2"), ContactStatus(), policy, begins + timedelta(seconds=second))
    assert (a.state, a.skip_reason) == (b.state, b.skip_reason)
    assert a.state in (State.ASKED, State.SKIPPED)
    assert (a.skip_reason is SkipReason.NOT_SAMPLED) == (not sampled(0.4, "acme", "memory", user, 700))


def test_other_skip_reasons_come_first_and_a_sampled_out_close_asks_nothing() -> None:
    policy = Policy(sample=0.0)
    survey, actions = start(closed("u1"), ContactStatus(), policy, NOW)
    assert (survey.state, survey.skip_reason, survey.due_at, actions) == (
        State.SKIPPED,
        SkipReason.NOT_SAMPLED,
        None,
        [],
    )
    reasons = {
        SkipReason.SUPPRESSED: ContactStatus(suppressed=True),
        SkipReason.DUPLICATE: ContactStatus(has_open_survey_for_case=True),
        SkipReason.OPTED_OUT: ContactStatus(opted_out=True),
        SkipReason.UNREACHABLE: ContactStatus(unreachable=True),
        SkipReason.THROTTLED: ContactStatus(last_surveyed_at=NOW - DAY),
    }
    for reason, contact in reasons.items():
        assert start(closed("u1"), contact, policy, NOW)[0].skip_reason is reason


def test_the_period_defaults_to_the_throttle_window() -> None:
    assert Policy(throttle=timedelta(days=7)).sampling_period == timedelta(days=7)
    assert Policy(throttle=timedelta(days=7), sample_period=DAY).sampling_period == DAY
    assert Policy(throttle=timedelta(0)).sampling_period == DAY


def test_config_reads_the_rate_and_refuses_one_outside_0_to_1() -> None:
    def policy(**keys: object) -> Policy:
        config = {"profiles": {"acme": {"brand": "Acme", "channels": {"memory": {}}, "policy": keys}}}
        return parse_config(config, env={}).profile_settings()["acme"].policy

    got = policy(sample=0.3, sample_period="7d", throttle="14d")
    assert (got.sample, got.sampling_period) == (0.3, timedelta(days=7))
    assert policy(sample=0.3, throttle="14d").sampling_period == timedelta(days=14)
    with pytest.raises(ConfigError, match=r"policy\.sample: "):
        policy(sample=1.2)
    with pytest.raises(ConfigError, match=r"policy\.sample_period: must be longer than 0s"):
        policy(sample_period="0s")


async def test_sampled_out_closes_are_skipped_and_the_response_rate_counts_sampled_ones(store: Store, clock) -> None:
    policy = Policy(brand="Acme", sample=0.3)
    chat = MemoryChannel(SurveyService(store, {"acme": ProfileSettings("acme", policy)}, clock), "acme")
    period = period_index(clock(), policy.sampling_period)
    users = [f"u{i}" for i in range(60)]
    chosen = {u for u in users if sampled(0.3, "acme", "memory", u, period)}
    assert 0 < len(chosen) < len(users)
    for i, user in enumerate(users):
        outcome = await chat.close(f"c{i}", user, event_id=f"close-{i}")
        assert outcome.survey is not None
        assert (outcome.survey.state is State.ASKED) == (user in chosen)
        if user in chosen:
            await chat.tap(f"c{i}", user, 9)
    # The platform retries a close: the delivery is known; a later conversation of a sampled-out contact in the same
    # period is left out again.
    assert (await chat.close("c0", users[0], event_id="close-0")).status == "duplicate"
    out = next(u for u in users if u not in chosen)
    clock.advance(days=2)
    again = await chat.close("later", out)
    assert again.survey is not None and again.survey.skip_reason is SkipReason.NOT_SAMPLED
    skipped = await skipped_by_reason(store)
    assert skipped == {"memory": {"not_sampled": len(users) - len(chosen) + 1}}
    report = await summary(store)
    assert report.asked == len(chosen)
    assert report.response_rate == 1.0
