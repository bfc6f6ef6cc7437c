"""A contact change as core/contacts.py reads it: only the fields given, null or blank clearing one, locales read
as their language and refused when the profile has no texts in it, IANA zones checked, attributes flat and bounded,
and every problem one line starting with the field."""

from __future__ import annotations

import pytest

from core.contacts import MAX_ATTRIBUTES, MAX_INT, ContactChange, InvalidContact, change, zone_hint


def ok(**given: object) -> ContactChange:
    return change("shop", "telegram", "42", given)


def refused(given: dict[str, object], channel: object = "telegram", user: object = "42", **kw: object) -> str:
    with pytest.raises(InvalidContact) as caught:
        change("shop", channel, user, given, **kw)  # type: ignore[arg-type]
    text = str(caught.value)
    assert "\n" not in text and text.startswith(caught.value.field + ": ")
    return text


def test_only_the_given_fields_are_in_the_change() -> None:
    assert ok(name="Ana").values == {"name": "Ana"}
    assert ok().values == {}
    assert ok(name=None, timezone="", external_id="  ").values == {"name": None, "timezone": None, "external_id": None}
    assert ok(name="  Ana Lima ").values == {"name": "Ana Lima"}


@pytest.mark.parametrize(
    ("written", "stored"), [("pt-BR", "pt"), ("es_419", "es"), ("DE", "de"), ("ca", "ca"), (None, None)]
)
def test_a_locale_is_stored_as_its_language(written: str | None, stored: str | None) -> None:
    assert ok(locale=written).values == {"locale": stored}


def test_a_locale_the_profile_has_no_texts_in_is_refused() -> None:
    assert refused({"locale": "ja"}).startswith("locale: 'ja': the profile has texts in en, es")
    assert change("shop", "telegram", "1", {"locale": "ja-JP"}, locales=("en", "ja")).values == {"locale": "ja"}
    assert refused({"locale": "english!"}).startswith("locale: 'english!' is not a language code")


def test_time_zones_are_iana_names() -> None:
    assert ok(timezone="America/Argentina/Buenos_Aires").values == {"timezone": "America/Argentina/Buenos_Aires"}
    assert refused({"timezone": "CEST+2"}).startswith("timezone: unknown time zone 'CEST+2'")
    assert refused({"timezone": 3}) == "timezone: must be text, not int"
    assert refused({"timezone": "localtime"}).startswith("timezone: 'localtime' is this server's setting")
    assert zone_hint("Europe/Oslo") == "Europe/Oslo"
    assert zone_hint("Nowhere/Land") is None and zone_hint(None) is None


def test_consent() -> None:
    assert ok(consent="Granted").values == {"consent": "granted"}
    assert ok(consent=None).values == {"consent": None}
    assert refused({"consent": "yes"}) == "consent: 'yes': use granted, denied or null (not recorded)"


def test_attributes_are_flat_and_bounded() -> None:
    given = {"plan": "pro", "seats": 3, "mrr": 99.5, "vip": True, "old": None}
    assert ok(attributes=given).values == {"attributes": given}
    assert refused({"attributes": {"plan": ["a"]}}).startswith("attributes.plan: text, a number or true/false")
    assert refused({"attributes": {"plan": {"tier": 1}}}).startswith("attributes.plan:")
    assert refused({"attributes": {"n": MAX_INT + 1}}).startswith("attributes.n: a number between")
    assert refused({"attributes": {"x": "v" * 257}}) == "attributes.x: at most 256 characters"
    assert refused({"attributes": {"x": "a\x00b"}}).startswith("attributes.x: must not contain NUL")
    assert refused({"attributes": {"1st": 1}}).startswith("attributes.1st: '1st': a name is 1 to 64")
    assert refused({"attributes": {"k" * 65: 1}}).startswith("attributes.")
    many = {f"a{i}": i for i in range(MAX_ATTRIBUTES + 1)}
    assert refused({"attributes": many}) == f"attributes: at most {MAX_ATTRIBUTES} per contact"
    assert refused({"attributes": "plan=pro"}).startswith("attributes: an object")


def test_text_fields_have_the_columns_widths() -> None:
    assert refused({"name": "n" * 257}) == "name: at most 256 characters"
    assert refused({"workspace": "w" * 65}) == "workspace: at most 64 characters"
    assert refused({"external_id": "a\ud800"}).startswith("external_id: must not contain NUL")
    assert refused({"nickname": "x"}).startswith("nickname: not a contact field")
    assert refused({"consent_at": "2026-01-01"}).startswith("consent_at: not a contact field")


def test_the_address_is_required_and_bounded() -> None:
    assert refused({}, channel=None) == "channel: required (text)"
    assert refused({}, user="") == "id: required (text)"
    assert refused({}, user=42) == "id: required (text)"
    assert refused({}, user="u" * 129) == "id: at most 128 characters"
    assert refused({}, channel="c" * 33) == "channel: at most 32 characters"
    assert change("shop", "telegram", " 42 ", {}).user_id == " 42 "  # the platform's id, as written
