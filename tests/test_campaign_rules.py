"""A campaign's decisions about people (core/campaigns.py): audience, channel preference across a person's contacts,
opt-out and throttle across both kinds of survey, sampling stable per person and period, and the spread of due
times over the send window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from core.campaigns import (
    CASE_ID_WIDTH,
    Audience,
    Campaign,
    CampaignContact,
    Condition,
    Period,
    case_id,
    decide,
    people,
    period_key,
    spread,
    tally,
)
from core.schedules import Schedule
from core.variants import Variant

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
WEEK = Schedule.parse("0 9 * * MON")


def campaign(**kw: object) -> Campaign:
    base: dict[str, object] = {"name": "q", "schedule": WEEK, "channels": ("telegram", "webhook")}
    return Campaign(**(base | kw))  # type: ignore[arg-type]


def period(occurrence: datetime = NOW, throttle: timedelta = timedelta(days=30)) -> Period:
    return Period("acme", occurrence, occurrence, occurrence, throttle)


def contact(i: int, channel: str = "webhook", **kw: object) -> CampaignContact:
    return CampaignContact(id=i, channel=channel, user_id=f"{channel[0]}{i}", **kw)  # type: ignore[arg-type]


def one(c: Campaign, *contacts: CampaignContact, at: Period | None = None):
    [(person, group)] = people(contacts).items()
    return decide(c, at or period(), person, group)


def test_attribute_conditions() -> None:
    attrs = {"plan": "pro", "seats": 3, "beta": True, "tags": ["a", "b"], "blank": ""}
    assert Condition("plan", ("pro",)).holds(attrs)
    assert Condition("plan", ("free", "pro")).holds(attrs)
    assert not Condition("plan", ("free",)).holds(attrs)
    assert Condition("seats", ("3",)).holds(attrs) and Condition("beta", ("true",)).holds(attrs)
    assert Condition("tags", ("b",)).holds(attrs)  # a list attribute: any of its values
    assert Condition("plan", ("free",), negate=True).holds(attrs)
    assert not Condition("plan", ("pro",), negate=True).holds(attrs)
    assert Condition("missing", ("x",), negate=True).holds(attrs)  # absent is not equal
    assert Condition("plan", present=True).holds(attrs) and Condition("missing", present=False).holds(attrs)
    assert Condition("blank", present=False).holds(attrs)


def test_audience_locale_channel_and_consent() -> None:
    a = Audience(locales=("es",), channels=("telegram",), consent_required=True)
    ok = contact(1, "telegram", locale="es-MX", consent="granted")
    assert a.includes(ok)
    assert not a.includes(contact(1, "telegram", locale="en", consent="granted"))
    assert not a.includes(contact(1, "telegram", locale="es", consent=None))
    assert not a.includes(contact(1, "webhook", locale="es", consent="granted"))
    assert not a.includes(contact(1, "telegram", locale=None, consent="granted"))


def test_outside_the_audience_and_no_channel() -> None:
    pro = campaign(audience=Audience((Condition("plan", ("pro",)),)))
    assert one(pro, contact(1, attributes={"plan": "free"})).outcome == "outside"
    assert one(pro, contact(1, "slack", attributes={"plan": "pro"})).outcome == "no_channel"
    assert one(pro, contact(1, attributes={"plan": "pro"})).outcome == "due"


def test_a_person_is_asked_once_on_the_first_reachable_channel_in_preference_order() -> None:
    c = campaign()
    web, tg = contact(1, "webhook", external_id="p1"), contact(2, "telegram", external_id="p1")
    d = one(c, web, tg)
    assert d.outcome == "due" and d.contact == tg and d.person == "x:p1"
    for blocked in ({"opted_out": True}, {"unreachable": True}, {"suppressed": True}, {"consent": "denied"}):
        d = one(c, web, contact(2, "telegram", external_id="p1", **blocked))
        assert (d.outcome, d.contact) == ("due", web), blocked
    assert one(campaign(channels=("webhook", "telegram")), web, tg).contact == web
    # Contacts without an external id are people of their own.
    assert len(people([contact(1), contact(2, "telegram")])) == 2


def test_the_reason_is_the_preferred_contacts_when_nobody_can_be_reached() -> None:
    c = campaign()
    d = one(
        c,
        contact(1, "webhook", external_id="p", unreachable=True),
        contact(2, "telegram", external_id="p", opted_out=True),
    )
    assert d.outcome == "opted_out" and d.contact is None
    assert one(c, contact(1, suppressed=True)).outcome == "suppressed"
    assert one(c, contact(1, consent="denied")).outcome == "consent_denied"


def test_the_throttle_is_the_persons_across_channels_and_kinds() -> None:
    c = campaign()
    # A transactional survey on webhook two days ago throttles the person, though Telegram is preferred.
    web = contact(1, "webhook", external_id="p", last_surveyed_at=NOW - timedelta(days=2))
    tg = contact(2, "telegram", external_id="p")
    assert one(c, web, tg).outcome == "throttled"
    assert one(c, web, tg, at=period(throttle=timedelta(days=1))).outcome == "due"
    assert one(c, contact(1, last_surveyed_at=NOW - timedelta(days=31))).outcome == "due"


def test_sampling_is_stable_per_person_and_period_and_near_the_rate() -> None:
    c = campaign(sample=0.3)
    contacts = [contact(i) for i in range(1, 3001)]
    first = [one(c, x).outcome for x in contacts]
    again = [one(c, x).outcome for x in contacts]
    assert first == again
    share = first.count("due") / len(first)
    assert 0.25 < share < 0.35
    later = [one(c, x, at=period(NOW + timedelta(days=7))).outcome for x in contacts]
    assert later != first  # a new period draws anew
    assert {one(campaign(sample=0.0), x).outcome for x in contacts[:50]} == {"not_sampled"}


def test_variants_are_chosen_per_contact_and_their_delay_added() -> None:
    c = campaign(variants=(Variant("a"), Variant("b", send_delay=timedelta(hours=2))))
    decisions = [one(c, contact(i)) for i in range(1, 201)]
    assert {d.variant for d in decisions} == {"a", "b"}
    for d in decisions:
        base = spread(NOW, c.send_window, d.person, period_key(NOW))
        assert d.due_at == base + (timedelta(hours=2) if d.variant == "b" else timedelta(0))
    assert [one(c, contact(i)).variant for i in range(1, 201)] == [d.variant for d in decisions]


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)),
    st.integers(min_value=0, max_value=90 * 86400),
    st.text(min_size=1, max_size=40),
)
def test_spread_stays_in_the_window_and_repeats(start: datetime, seconds: int, person: str) -> None:
    window = timedelta(seconds=seconds)
    at = spread(start, window, person, period_key(start))
    assert start <= at <= start + window
    assert at < start + window or seconds == 0
    assert at == spread(start, window, person, period_key(start))


def test_spread_is_even_over_the_window() -> None:
    window = timedelta(days=3)
    days = [(spread(NOW, window, f"c:{i}", period_key(NOW)) - NOW) // timedelta(days=1) for i in range(3000)]
    assert all(900 < days.count(d) < 1100 for d in range(3))


@given(st.text(min_size=1, max_size=300))
def test_case_ids_fit_their_column_and_differ_by_person(person: str) -> None:
    written = case_id("quarterly-nps-for-every-customer-of-the-enterprise-plan", period_key(NOW), person)
    assert len(written) <= CASE_ID_WIDTH
    assert written != case_id("quarterly-nps-for-every-customer-of-the-enterprise-plan", period_key(NOW), person + "x")


def test_tally_counts_every_outcome() -> None:
    c = campaign()
    decisions = [one(c, contact(1)), one(c, contact(2, opted_out=True)), one(c, contact(3, "slack"))]
    counts = tally(decisions)
    assert (counts["due"], counts["opted_out"], counts["no_channel"], counts["throttled"]) == (1, 1, 1, 0)
