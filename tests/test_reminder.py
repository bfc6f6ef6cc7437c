"""The one reminder of an unanswered question: due `reminder` after the question, found by the tick through the stored
deadline, held out of quiet hours, never at or after expiry, never twice; the original question still answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.memory import MemoryChannel
from bots.config import ConfigError, parse_config
from bots.worker import Worker
from core.asking import reminder_at
from core.messages import LOCALES, MessageCatalog
from core.profiles import ProfileSettings
from core.quiet_hours import QuietHours
from core.service import SurveyService
from core.store import Store
from core.store import surveys as q
from core.survey import ContactStatus, Policy, State, Survey, start, step
from core.types import Address, ConversationClosed, MarkAnswered, Say, ScoreGiven, TextReceived, Tick

ADDRESS = Address("memory", "acme", "c1", "u1")
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
NIGHT = QuietHours.parse("21:00-09:00")


def asked(policy: Policy, at: datetime = NOW, zone: str | None = None) -> Survey:
    survey, _ = start(ConversationClosed(ADDRESS, timezone=zone), ContactStatus(), policy, at)
    assert survey.state is State.ASKED
    return survey


def test_one_reminder_goes_out_when_due_and_never_again() -> None:
    policy = Policy(brand="Acme", reminder=timedelta(hours=4))
    survey = asked(policy)
    assert survey.next_deadline(policy) == NOW + timedelta(hours=4)
    assert step(survey, Tick(), policy, NOW + timedelta(hours=3, minutes=59)) == (survey, [])
    reminded, actions = step(survey, Tick(), policy, NOW + timedelta(hours=4))
    assert actions == [Say(policy.messages.text("reminder", "en", brand="Acme"), purpose="reminder")]
    assert (reminded.state, reminded.reminded_at, reminded.due_at) == (State.ASKED, NOW + timedelta(hours=4), None)
    assert reminded.next_deadline(policy) == NOW + policy.expiry
    assert step(reminded, Tick(), policy, NOW + timedelta(hours=5)) == (reminded, [])
    expired, actions = step(reminded, Tick(), policy, NOW + policy.expiry)
    assert (expired.state, actions) == (State.EXPIRED, [])


def test_no_reminder_without_the_key_or_once_answered() -> None:
    plain = Policy()
    assert asked(plain).next_deadline(plain) == NOW + plain.expiry
    policy = Policy(reminder=timedelta(hours=4))
    scored, _ = step(asked(policy), ScoreGiven(ADDRESS, 9), policy, NOW + timedelta(hours=1))
    assert scored.due_at is None and scored.next_deadline(policy) == NOW + timedelta(hours=2)
    # An unclear reply is not an answer: the reminder still stands.
    unclear, _ = step(asked(policy), TextReceived(ADDRESS, "hmm"), policy, NOW + timedelta(hours=1))
    assert unclear.next_deadline(policy) == NOW + timedelta(hours=4)
    # The profile stopped sending reminders after the question went out: none is sent.
    dropped, actions = step(asked(policy), Tick(), Policy(), NOW + timedelta(hours=4))
    assert (dropped.state, dropped.due_at, dropped.reminded_at, actions) == (State.ASKED, None, None, [])


def test_the_original_question_still_answers_after_the_reminder() -> None:
    policy = Policy(reminder=timedelta(hours=4))
    reminded, _ = step(asked(policy), Tick(), policy, NOW + timedelta(hours=4))
    tapped, actions = step(reminded, ScoreGiven(ADDRESS, 3), policy, NOW + timedelta(hours=5))
    assert tapped.state is State.SCORED and isinstance(actions[0], MarkAnswered)
    typed, _ = step(reminded, TextReceived(ADDRESS, "10"), policy, NOW + timedelta(hours=5))
    assert (typed.state, typed.score) == (State.SCORED, 10)


def test_a_reminder_due_in_quiet_hours_waits_for_their_end() -> None:
    policy = Policy(reminder=timedelta(hours=4), quiet_hours=NIGHT)
    at_six = datetime(2026, 3, 2, 17, tzinfo=UTC)  # 18:00 in Madrid; the reminder would be at 22:00
    survey = asked(policy, at_six, "Europe/Madrid")
    assert survey.due_at == datetime(2026, 3, 3, 8, tzinfo=UTC)  # 09:00 in Madrid, before expiry at 17:00 UTC
    _, actions = step(survey, Tick(), policy, datetime(2026, 3, 3, 8, tzinfo=UTC))
    assert [a.purpose for a in actions if isinstance(a, Say)] == ["reminder"]
    # With a 12-hour expiry the end of quiet hours comes after it: no reminder at all.
    short = Policy(reminder=timedelta(hours=4), expiry=timedelta(hours=12), quiet_hours=NIGHT)
    survey = asked(short, at_six, "Europe/Madrid")
    assert survey.due_at is None and survey.next_deadline(short) == at_six + timedelta(hours=12)


def test_a_late_tick_in_quiet_hours_holds_the_reminder_or_drops_it_at_expiry() -> None:
    policy = Policy(reminder=timedelta(hours=2), quiet_hours=NIGHT, timezone="Europe/Madrid")
    survey = asked(policy, datetime(2026, 3, 2, 17, tzinfo=UTC))  # 18:00; reminder due 20:00 local
    late = datetime(2026, 3, 2, 21, tzinfo=UTC)  # the worker was down until 22:00 local
    held, actions = step(survey, Tick(), policy, late)
    assert (held.due_at, held.reminded_at, actions) == (datetime(2026, 3, 3, 8, tzinfo=UTC), None, [])
    brief = Policy(reminder=timedelta(hours=2), expiry=timedelta(hours=10), quiet_hours=NIGHT, timezone="Europe/Madrid")
    survey = asked(brief, datetime(2026, 3, 2, 17, tzinfo=UTC))
    dropped, actions = step(survey, Tick(), brief, late)
    assert (dropped.state, dropped.due_at, actions) == (State.ASKED, None, [])
    assert dropped.next_deadline(brief) == datetime(2026, 3, 3, 3, tzinfo=UTC)


ZONES = ("Europe/Madrid", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia")


@given(
    st.datetimes(datetime(2011, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)),
    st.sampled_from(ZONES),
    st.integers(1, 48 * 60),
    st.integers(1, 72 * 60),
    st.sampled_from(["21:00-09:00", "22:00-07:30", "12:00-14:00", "01:00-02:30", "23:30-02:00"]),
)
def test_a_reminder_is_never_in_quiet_hours_nor_at_or_after_expiry(
    asked_at: datetime, zone: str, reminder: int, expiry: int, window: str
) -> None:
    quiet = QuietHours.parse(window)
    at = reminder_at(asked_at, timedelta(minutes=reminder), timedelta(minutes=expiry), quiet, zone)
    if at is not None:
        assert asked_at + timedelta(minutes=reminder) <= at < asked_at + timedelta(minutes=expiry)
        assert not quiet.contains(at, ZoneInfo(zone))
    else:
        assert quiet.next_allowed(asked_at + timedelta(minutes=reminder), ZoneInfo(zone)) >= asked_at + timedelta(
            minutes=expiry
        )


@pytest.mark.parametrize("locale", LOCALES)
def test_the_reminder_reads_in_every_built_in_language(locale: str) -> None:
    text = MessageCatalog().text("reminder", locale, brand="Acme")
    assert "Acme" in text and "10" in text
    assert text != MessageCatalog().text("reminder", "en" if locale != "en" else "es", brand="Acme")


def test_config_refuses_a_reminder_not_shorter_than_expiry() -> None:
    def policy(**keys: object) -> Policy:
        config = {"profiles": {"acme": {"brand": "Acme", "channels": {"memory": {}}, "policy": keys}}}
        return parse_config(config, env={}).profile_settings()["acme"].policy

    assert policy(reminder="4h").reminder == timedelta(hours=4)
    assert policy().reminder is None
    with pytest.raises(ConfigError, match=r"policy: reminder must be shorter than expiry"):
        policy(reminder="24h", expiry="24h")
    with pytest.raises(ConfigError, match=r"policy\.reminder: must be longer than 0s"):
        policy(reminder="0s")


def service_for(store: Store, clock, policy: Policy) -> tuple[SurveyService, MemoryChannel, Worker]:
    service = SurveyService(store, {"acme": ProfileSettings("acme", policy)}, clock)
    chat = MemoryChannel(service, "acme")
    return service, chat, Worker(service, {("memory", "acme"): chat})


async def test_the_reminder_goes_out_once_through_the_outbox(store: Store, clock) -> None:
    policy = Policy(brand="Acme", reminder=timedelta(hours=4))
    service, chat, worker = service_for(store, clock, policy)
    opened = await chat.close("c1", "u1", locale="fr")
    assert opened.survey is not None
    await worker.drain()
    clock.advance(hours=3)
    assert await service.tick() == 0
    clock.advance(hours=1)
    assert await service.tick() == 1
    await worker.drain()
    clock.advance(hours=1)
    assert await service.tick() == 0
    await worker.drain()
    inbox = chat.inbox("c1")
    assert [d.kind for d in inbox] == ["ask_score", "say"]
    reminder = inbox[1].action
    assert isinstance(reminder, Say) and reminder.purpose == "reminder"
    assert reminder.text.startswith("Petit rappel") and "Acme" in reminder.text
    async with store.read() as conn:
        stored = await q.get_survey(conn, opened.survey.id)
    assert stored is not None and stored.reminded_at == opened.survey.asked_at + timedelta(hours=4)
    # The tap on the original question's button still scores.
    tapped = await chat.tap("c1", "u1", 8, survey_id=opened.survey.id)
    assert tapped.status == "ok" and tapped.survey is not None and tapped.survey.score == 8
    clock.advance(days=2)
    await service.tick()
    await worker.drain()
    assert [d.kind for d in chat.inbox("c1")].count("say") == 1


async def test_no_reminder_once_the_question_has_expired(store: Store, clock) -> None:
    policy = Policy(brand="Acme", reminder=timedelta(hours=4), expiry=timedelta(hours=8))
    service, chat, worker = service_for(store, clock, policy)
    opened = await chat.close("c1", "u1")
    assert opened.survey is not None
    await worker.drain()
    clock.advance(hours=9)  # the worker was down past both the reminder and the expiry
    assert await service.tick() == 1
    await worker.drain()
    assert [d.kind for d in chat.inbox("c1")] == ["ask_score"]
    async with store.read() as conn:
        stored = await q.get_survey(conn, opened.survey.id)
    assert stored is not None and (stored.state, stored.reminded_at) == (State.EXPIRED, None)
