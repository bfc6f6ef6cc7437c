"""Variants of the question: each contact always gets the same one, spread evenly; its send delay and wording (per
locale, else the catalogue's) apply to transactional surveys, and a campaign's to its relational ones."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.memory import MemoryChannel
from bots.config import ConfigError, parse_config
from bots.worker import Worker
from core.profiles import ProfileSettings
from core.quiet_hours import QuietHours
from core.service import SurveyService
from core.store import Store, survey_lookup
from core.store import surveys as q
from core.survey import ContactStatus, Kind, Policy, State, Survey, start, step
from core.types import Address, AskScore, ConversationClosed, Tick
from core.variants import Variant, choose, contact_key, named

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
SHORT = Variant("short", {"en": "Would you recommend {brand}? 0-10", "pt-BR": "Você recomendaria a {brand}?"})
LATER = Variant("later", send_delay=timedelta(hours=2))


def closed(user: str, locale: str | None = None) -> ConversationClosed:
    return ConversationClosed(Address("memory", "acme", f"c-{user}", user), locale=locale)


def test_no_experiment_chooses_nothing_and_a_contact_always_gets_the_same_variant() -> None:
    assert choose((), "anyone") is None
    key = contact_key("acme", "memory", "u1")
    assert key == "acme\x1fmemory\x1fu1" and contact_key("acme", "memory", "u1", "q1") == key + "q1"
    assert len({choose((SHORT, LATER), key) for _ in range(20)}) == 1
    assert named((SHORT, LATER), "later") is LATER and named((SHORT, LATER), "gone") is None


def test_variants_are_spread_evenly_over_contacts() -> None:
    arms = (SHORT, LATER, Variant("third"))
    got = Counter(choose(arms, contact_key("acme", "memory", f"user-{i}")).name for i in range(30_000))  # type: ignore[union-attr]
    assert set(got) == {"short", "later", "third"}
    assert all(n / 30_000 == pytest.approx(1 / 3, abs=0.015) for n in got.values())
    # A campaign's experiment is drawn apart from the profile's: the same contacts split differently.
    profile = [choose(arms, contact_key("acme", "memory", f"user-{i}")) for i in range(3000)]
    campaign = [choose(arms, contact_key("acme", "memory", f"user-{i}", "quarterly")) for i in range(3000)]
    assert sum(a == b for a, b in zip(profile, campaign, strict=True)) / 3000 == pytest.approx(1 / 3, abs=0.05)


@given(st.text(max_size=30))
def test_the_survey_stores_the_contacts_variant(user: str) -> None:
    policy = Policy(variants=(SHORT, LATER))
    survey, _ = start(closed(user), ContactStatus(), policy, NOW)
    expected = choose(policy.variants, contact_key("acme", "memory", user))
    assert expected is not None and survey.variant == expected.name
    assert survey.due_at == (NOW + timedelta(hours=2) if expected is LATER else None)
    assert survey.state is (State.PENDING if expected is LATER else State.ASKED)


def user_with(variant: Variant, variants: tuple[Variant, ...], experiment: str = "") -> str:
    return next(
        f"u{i}" for i in range(1000) if choose(variants, contact_key("acme", "memory", f"u{i}", experiment)) == variant
    )


def test_the_variants_wording_in_the_surveys_locale_else_the_catalogues() -> None:
    policy = Policy(brand="Acme", send_delay=timedelta(hours=1), variants=(SHORT, LATER))
    user = user_with(SHORT, policy.variants)
    texts = {}
    for locale in ("en", "pt", "es"):
        survey, _ = start(closed(user, locale), ContactStatus(), policy, NOW)
        assert survey.variant == "short" and survey.due_at == NOW + timedelta(hours=1)  # no delay of its own
        _, actions = step(survey, Tick(), policy, survey.due_at)
        assert isinstance(actions[0], AskScore)
        texts[locale] = actions[0].text
    assert texts["en"] == "Would you recommend Acme? 0-10"
    assert texts["pt"] == "Você recomendaria a Acme?"  # written for pt-BR, read for Portuguese
    assert texts["es"] == policy.messages.text("question", "es", brand="Acme")


def test_a_relational_survey_asks_in_its_campaigns_variant() -> None:
    wordy = Variant("wordy", {"en": "Over the last quarter, how likely are you to recommend {brand}?"})
    policy = Policy(brand="Acme", variants=(SHORT, LATER), campaign_variants={"quarterly": (wordy, Variant("plain"))})
    address = Address("memory", "acme", "u1", "u1")
    base = Survey(address, State.PENDING, "en", NOW, due_at=NOW, kind=Kind.RELATIONAL, campaign="quarterly")
    _, actions = step(replace(base, variant="wordy"), Tick(), policy, NOW)
    assert isinstance(actions[0], AskScore) and actions[0].text.startswith("Over the last quarter")
    # Its variant has no wording, or the campaign no experiment (any more): the catalogue's question.
    for variant, campaign in (("plain", "quarterly"), ("wordy", "gone"), ("short", "quarterly")):
        _, actions = step(replace(base, variant=variant, campaign=campaign), Tick(), policy, NOW)
        assert isinstance(actions[0], AskScore)
        assert actions[0].text == policy.messages.text("question", "en", brand="Acme")


def test_config_reads_variants_and_refuses_a_lone_or_repeated_name() -> None:
    def policy(variants: object) -> Policy:
        config = {"profiles": {"acme": {"brand": "Acme", "channels": {"memory": {}}, "policy": {"variants": variants}}}}
        return parse_config(config, env={}).profile_settings()["acme"].policy

    got = policy([{"name": "short", "question": {"en": "Recommend {brand}?"}}, {"name": "later", "send_delay": "2h"}])
    assert got.variants == (Variant("short", {"en": "Recommend {brand}?"}), Variant("later", {}, timedelta(hours=2)))
    with pytest.raises(ConfigError, match=r"policy\.variants: an experiment needs two or more variants"):
        policy([{"name": "short"}])
    with pytest.raises(ConfigError, match=r"policy\.variants: variant names must be unique"):
        policy([{"name": "a"}, {"name": "a"}])
    with pytest.raises(ConfigError, match=r"policy\.variants\[1\]\.question"):
        policy([{"name": "a"}, {"name": "b", "question": {"xx": "?"}}])
    with pytest.raises(ConfigError, match=r"policy\.variants: b: question\.en: unknown placeholder \{score\}"):
        policy([{"name": "a"}, {"name": "b", "question": {"en": "{brand}: your {score}?"}}])


async def test_each_contact_is_asked_in_its_variant_through_the_outbox(store: Store, clock) -> None:
    policy = Policy(brand="Acme", variants=(SHORT, LATER))
    service = SurveyService(store, {"acme": ProfileSettings("acme", policy)}, clock)
    chat = MemoryChannel(service, "acme")
    worker = Worker(service, {("memory", "acme"): chat})
    users = [f"u{i}" for i in range(12)]
    chosen = {u: choose(policy.variants, contact_key("acme", "memory", u)) for u in users}
    assert {v.name for v in chosen.values() if v is not None} == {"short", "later"}
    for user in users:
        await chat.close(f"c-{user}", user)
    await worker.drain()
    clock.advance(hours=2)
    await service.tick()
    await worker.drain()
    async with store.read() as conn:
        for user in users:
            survey = await survey_lookup.find_survey(conn, chat.address(f"c-{user}", user))
            assert survey is not None and survey.variant == chosen[user].name  # type: ignore[union-attr]
            assert survey.asked_at == NOW + (timedelta(hours=2) if chosen[user] is LATER else timedelta(0))
    for user in users:
        [question] = chat.inbox(f"c-{user}")
        assert isinstance(question.action, AskScore)
        short = chosen[user] is SHORT
        assert (question.action.text == "Would you recommend Acme? 0-10") == short


async def test_a_campaigns_survey_is_asked_by_the_tick_in_its_variant_after_quiet_hours(store: Store, clock) -> None:
    wordy = Variant("wordy", {"en": "This quarter, how likely are you to recommend {brand}? 0-10"})
    policy = Policy(
        brand="Acme",
        quiet_hours=QuietHours.parse("21:00-09:00"),
        campaign_variants={"quarterly": (wordy, Variant("plain"))},
    )
    service = SurveyService(store, {"acme": ProfileSettings("acme", policy)}, clock)
    chat = MemoryChannel(service, "acme")
    worker = Worker(service, {("memory", "acme"): chat})
    due = datetime(2026, 3, 2, 21, 30, tzinfo=UTC)  # 22:30 in Madrid, the contact's zone
    address = chat.address("u1", "u1")
    survey = Survey(address, State.PENDING, "en", NOW, case_id="quarterly:1", due_at=due, kind=Kind.RELATIONAL)
    survey = replace(survey, campaign="quarterly", variant="wordy", timezone="Europe/Madrid")
    async with store.transaction() as conn:
        survey_id = await q.insert_survey(conn, survey, policy)
    clock.now = due
    assert await service.tick() == 1  # held: quiet hours in Madrid
    await worker.drain()
    assert chat.inbox("u1") == []
    clock.now = datetime(2026, 3, 3, 8, tzinfo=UTC)  # 09:00 in Madrid
    assert await service.tick() == 1
    await worker.drain()
    [question] = chat.inbox("u1")
    assert isinstance(question.action, AskScore)
    assert question.action.text == "This quarter, how likely are you to recommend Acme? 0-10"
    async with store.read() as conn:
        stored = await q.get_survey(conn, survey_id)
    assert stored is not None and (stored.state, stored.kind, stored.variant) == (State.ASKED, Kind.RELATIONAL, "wordy")
