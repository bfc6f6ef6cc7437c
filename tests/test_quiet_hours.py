"""Quiet hours: the window read in the customer's zone across midnight and DST changes, a question due inside it
sent at its end (the first allowed instant), and a close at 23:00 local asked at 09:00 local on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.memory import MemoryChannel
from bots.config import ConfigError, parse_config
from bots.worker import Worker
from core.profiles import ProfileSettings
from core.quiet_hours import QuietHours, customer_zone
from core.service import SurveyService
from core.store import Store, reachability
from core.store import surveys as q
from core.survey import ContactStatus, Kind, Policy, State, Survey, start, step
from core.types import Address, AskScore, ConversationClosed, Tick

ZONES = ("Europe/Madrid", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia", "UTC")
ADDRESS = Address("memory", "acme", "c1", "u1")


@cache
def transitions(name: str) -> tuple[datetime, ...]:
    """The instants the zone's UTC offset changed in 2011 and 2019–2027 (Apia skipped 30 Dec 2011), to the second."""
    tz, found = ZoneInfo(name), []
    for year in (2011, *range(2019, 2028)):
        t = datetime(year, 1, 1, tzinfo=UTC)
        while t.year == year:
            following = t + timedelta(hours=6)
            if t.astimezone(tz).utcoffset() != following.astimezone(tz).utcoffset():
                low, high = t, following
                while high - low > timedelta(seconds=1):
                    middle = low + (high - low) / 2
                    same = middle.astimezone(tz).utcoffset() == low.astimezone(tz).utcoffset()
                    low, high = (middle, high) if same else (low, middle)
                found.append(high.replace(microsecond=0))
            t = following
    return tuple(found)


# Ends and starts near the hours at which these zones change their clocks (02:00, 02:30 in Lord Howe, 03:00 / 04:00
# in Apia), and any quarter hour.
NEAR = [time(h, m) for h in (0, 1, 2, 3, 4) for m in (0, 15, 30, 45)] + [time(7, 30), time(9, 0), time(21, 0)]
clock_times = st.one_of(st.sampled_from(NEAR), st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45])))
windows = st.tuples(clock_times, clock_times).filter(lambda w: w[0] != w[1]).map(lambda w: QuietHours(*w))


@st.composite
def zone_and_instant(draw: st.DrawFn) -> tuple[ZoneInfo, datetime]:
    """An instant within a day and a half of one of the zone's DST changes, or anywhere in 2010–2030."""
    name = draw(st.sampled_from(ZONES))
    changes = transitions(name)
    if changes and draw(st.booleans()):
        around = draw(st.sampled_from(changes))
        instant = around + timedelta(seconds=draw(st.integers(-36 * 3600, 36 * 3600)))
    else:
        instant = draw(st.datetimes(datetime(2010, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)))
    return ZoneInfo(name), instant


@given(windows, zone_and_instant())
def test_the_send_time_is_the_first_instant_out_of_quiet_hours(quiet: QuietHours, where: tuple) -> None:
    tz, due = where
    sent = quiet.next_allowed(due, tz)
    assert not quiet.contains(sent, tz)
    assert sent >= due
    if sent > due:
        # Quiet all the way from the due time to the send time: nothing earlier was allowed.
        span = sent - due
        for k in range(10):
            assert quiet.contains(due + span * k / 10, tz)
        assert quiet.contains(sent - timedelta(microseconds=1), tz)
        # It is the end of quiet hours on the customer's clock, or the moment the clocks jumped out of them.
        wall = sent.astimezone(tz)
        jumped = (sent - timedelta(seconds=1)).astimezone(tz).utcoffset() != wall.utcoffset()
        assert wall.time().replace(tzinfo=None) == quiet.end or jumped
    else:
        assert not quiet.contains(due, tz)


def test_windows_across_midnight_and_within_a_day() -> None:
    madrid = ZoneInfo("Europe/Madrid")
    night = QuietHours.parse("21:00-09:00")
    at = lambda h, m=0: datetime(2026, 6, 10, h, m, tzinfo=madrid)  # noqa: E731
    assert [night.contains(at(h), madrid) for h in (8, 9, 12, 20, 21, 23)] == [True, False, False, False, True, True]
    lunch = QuietHours.parse("12:00-14:00")
    assert [lunch.contains(at(h), madrid) for h in (11, 12, 13, 14)] == [False, True, True, False]
    assert lunch.next_allowed(at(12, 30), madrid) == at(14)
    assert night.next_allowed(at(23), madrid) == datetime(2026, 6, 11, 9, 0, tzinfo=madrid)
    assert night.next_allowed(at(7), madrid) == at(9)
    assert night.next_allowed(at(15), madrid) == at(15)
    assert QuietHours.parse("22:00-07:30").next_allowed(at(23), madrid) == datetime(2026, 6, 11, 7, 30, tzinfo=madrid)


def local(tz: str, *parts: int, fold: int = 0) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(tz), fold=fold)  # type: ignore[misc]


def test_an_end_the_clocks_skip_moves_to_the_first_instant_after_the_jump() -> None:
    madrid, lord_howe = ZoneInfo("Europe/Madrid"), ZoneInfo("Australia/Lord_Howe")
    # Madrid, 29 March 2026: 02:00 becomes 03:00, so 02:30 never happens.
    sent = QuietHours.parse("21:00-02:30").next_allowed(local("Europe/Madrid", 2026, 3, 28, 23), madrid)
    assert sent == datetime(2026, 3, 29, 1, 0, tzinfo=UTC) and sent.astimezone(madrid).hour == 3
    # Lord Howe, 4 October 2026: 02:00 becomes 02:30 (a half-hour change).
    sent = QuietHours.parse("22:00-02:15").next_allowed(local("Australia/Lord_Howe", 2026, 10, 3, 23), lord_howe)
    assert (sent.astimezone(lord_howe).hour, sent.astimezone(lord_howe).minute) == (2, 30)
    # Apia skipped 30 December 2011: the night of the 29th ends at 09:00 on the 31st, the next morning there is.
    apia = ZoneInfo("Pacific/Apia")
    sent = QuietHours.parse("21:00-09:00").next_allowed(local("Pacific/Apia", 2011, 12, 29, 22), apia)
    assert sent == local("Pacific/Apia", 2011, 12, 31, 9)


def test_an_end_the_clocks_repeat_takes_its_first_occurrence_after_the_due_time() -> None:
    madrid, new_york = ZoneInfo("Europe/Madrid"), ZoneInfo("America/New_York")
    # Madrid, 25 October 2026: 03:00 becomes 02:00, so 02:30 happens twice (00:30 and 01:30 UTC).
    quiet = QuietHours.parse("21:00-02:30")
    assert quiet.next_allowed(local("Europe/Madrid", 2026, 10, 24, 23), madrid) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )
    # Due at 02:10 the second time round (00:10 UTC would be the first): the second 02:30 is the next end.
    second = local("Europe/Madrid", 2026, 10, 25, 2, 10, fold=1)
    assert quiet.contains(second, madrid)
    assert quiet.next_allowed(second, madrid) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    # Madrid, 30 October 2011: due at 02:59 summer time inside 02:15-03:00, the clocks go back to 02:00 at 01:00
    # UTC, which is outside: that jump ends quiet hours, not 03:00 an hour later.
    before_three = QuietHours.parse("02:15-03:00")
    due = datetime(2011, 10, 30, 0, 59, tzinfo=UTC)
    assert before_three.next_allowed(due, madrid) == datetime(2011, 10, 30, 1, 0, tzinfo=UTC)
    # New York, 1 November 2026: 01:30 happens at 05:30 and 06:30 UTC.
    early = QuietHours.parse("23:00-01:30")
    assert early.next_allowed(local("America/New_York", 2026, 10, 31, 23, 30), new_york) == datetime(
        2026, 11, 1, 5, 30, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "text", ["21:00", "25:00-09:00", "21:60-09:00", "09:00-09:00", "nine to five", "21:00-09:00-10:00", ""]
)
def test_invalid_quiet_hours_are_refused_with_the_reason(text: str) -> None:
    with pytest.raises(ValueError, match=r"quiet hours|hours run|the same time"):
        QuietHours.parse(text)
    config = {"profiles": {"acme": {"brand": "Acme", "channels": {"memory": {}}, "policy": {"quiet_hours": text}}}}
    with pytest.raises(ConfigError, match=r"profiles\.acme\.policy\.quiet_hours: "):
        parse_config(config, env={})


def test_config_reads_quiet_hours_and_the_default_zone() -> None:
    policy = {"quiet_hours": " 22:00 - 07:30 ", "timezone": "America/New_York"}
    config = {"profiles": {"acme": {"brand": "Acme", "channels": {"memory": {}}, "policy": policy}}}
    got = parse_config(config, env={}).profile_settings()["acme"].policy
    assert (got.quiet_hours, got.timezone) == (QuietHours(time(22), time(7, 30)), "America/New_York")
    config["profiles"]["acme"]["policy"] = {"timezone": "Europe/Atlantis"}
    with pytest.raises(ConfigError, match=r"policy\.timezone: unknown time zone 'Europe/Atlantis'"):
        parse_config(config, env={})


def test_the_customers_zone_is_the_contacts_then_the_platforms_then_the_profiles() -> None:
    policy = Policy(timezone="Europe/Madrid")
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)

    def zone_of(contact: str | None, hint: str | None) -> str | None:
        event = ConversationClosed(ADDRESS, timezone=hint)
        return start(event, ContactStatus(timezone=contact), policy, now)[0].timezone

    assert zone_of("Asia/Tokyo", "America/New_York") == "Asia/Tokyo"
    assert zone_of(None, "America/New_York") == "America/New_York"
    assert zone_of(None, "GMT+2 (not a zone)") == "Europe/Madrid"
    assert zone_of(None, None) == "Europe/Madrid"
    assert customer_zone(None, "", "../etc/passwd") == "UTC"


def test_a_question_due_in_quiet_hours_waits_for_their_end_in_the_customers_zone() -> None:
    policy = Policy(quiet_hours=QuietHours.parse("21:00-09:00"), timezone="UTC")
    closed_at = datetime(2026, 3, 2, 22, tzinfo=UTC)  # 23:00 in Madrid, 17:00 in New York
    madrid = ConversationClosed(ADDRESS, timezone="Europe/Madrid")
    survey, actions = start(madrid, ContactStatus(), policy, closed_at)
    assert (survey.state, actions, survey.due_at) == (State.PENDING, [], datetime(2026, 3, 3, 8, tzinfo=UTC))
    assert step(survey, Tick(), policy, datetime(2026, 3, 3, 7, 59, tzinfo=UTC)) == (survey, [])
    asked, actions = step(survey, Tick(), policy, datetime(2026, 3, 3, 8, tzinfo=UTC))
    assert asked.state is State.ASKED and isinstance(actions[0], AskScore)
    new_york = ConversationClosed(ADDRESS, timezone="America/New_York")
    assert start(new_york, ContactStatus(), policy, closed_at)[0].state is State.ASKED


def test_a_send_delay_ending_in_quiet_hours_is_held_at_the_tick() -> None:
    policy = Policy(
        send_delay=timedelta(hours=2), quiet_hours=QuietHours.parse("21:00-09:00"), timezone="Europe/Madrid"
    )
    survey, _ = start(ConversationClosed(ADDRESS), ContactStatus(), policy, datetime(2026, 3, 2, 19, tzinfo=UTC))
    assert survey.due_at == datetime(2026, 3, 2, 21, tzinfo=UTC)  # 22:00 in Madrid
    held, actions = step(survey, Tick(), policy, survey.due_at)
    assert (held.state, actions, held.due_at) == (State.PENDING, [], datetime(2026, 3, 3, 8, tzinfo=UTC))
    assert held.next_deadline(policy) == held.due_at


def test_a_relational_survey_without_a_zone_reads_quiet_hours_in_the_profiles() -> None:
    policy = Policy(quiet_hours=QuietHours.parse("21:00-09:00"), timezone="America/New_York")
    due = datetime(2026, 3, 3, 3, tzinfo=UTC)  # 22:00 in New York
    survey = Survey(ADDRESS, State.PENDING, "en", due, due_at=due, kind=Kind.RELATIONAL, campaign="quarterly")
    held, actions = step(survey, Tick(), policy, due)
    assert (held.state, actions, held.due_at) == (State.PENDING, [], datetime(2026, 3, 3, 14, tzinfo=UTC))


async def test_a_close_at_23_local_is_asked_at_9_local(store: Store, clock) -> None:
    clock.now = datetime(2026, 3, 2, 22, tzinfo=UTC)  # 23:00 in Madrid (CET)
    policy = Policy(brand="Acme", quiet_hours=QuietHours.parse("21:00-09:00"), timezone="America/New_York")
    service = SurveyService(store, {"acme": ProfileSettings("acme", policy)}, clock)
    chat = MemoryChannel(service, "acme")
    worker = Worker(service, {("memory", "acme"): chat})
    async with store.transaction() as conn:  # the contact's own zone wins over the platform's hint
        await reachability.touch_contact(conn, chat.address("c1", "u1"), timezone="Europe/Madrid")
    closed = await service.handle(ConversationClosed(chat.address("c1", "u1"), timezone="Asia/Tokyo"))
    assert closed.survey is not None and closed.survey.state is State.PENDING
    assert closed.survey.timezone == "Europe/Madrid"
    await worker.drain()
    assert chat.inbox("c1") == []
    clock.now = datetime(2026, 3, 3, 7, 59, tzinfo=UTC)
    assert await service.tick() == 0
    clock.now = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)  # 09:00 in Madrid
    assert await service.tick() == 1
    await worker.drain()
    assert [d.kind for d in chat.inbox("c1")] == ["ask_score"]
    async with store.read() as conn:
        stored = await q.get_survey(conn, closed.survey.id)
    assert stored is not None and stored.state is State.ASKED
    assert stored.asked_at == datetime(2026, 3, 3, 8, tzinfo=UTC) and stored.timezone == "Europe/Madrid"


@given(
    windows,
    zone_and_instant(),
    st.sampled_from([timedelta(0), timedelta(minutes=30), timedelta(hours=2)]),
)
def test_a_survey_is_asked_at_the_first_allowed_instant_after_its_send_delay(
    quiet: QuietHours, where: tuple, delay: timedelta
) -> None:
    tz, closed_at = where
    policy = Policy(send_delay=delay, quiet_hours=quiet)
    survey, actions = start(ConversationClosed(ADDRESS, timezone=tz.key), ContactStatus(), policy, closed_at)
    while survey.state is State.PENDING:  # the tick steps it at each stored deadline
        due = survey.next_deadline(policy)
        assert due is not None and due >= closed_at + delay
        survey, actions = step(survey, Tick(), policy, due)
    assert survey.state is State.ASKED and isinstance(actions[0], AskScore)
    assert survey.asked_at == quiet.next_allowed(closed_at + delay, tz)
    assert survey.next_deadline(policy) == survey.asked_at + policy.expiry
