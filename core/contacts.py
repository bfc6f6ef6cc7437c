"""The contact record: one customer per profile and channel address, as the operator maintains it (the API's PUT
and bulk upsert, `npsbot contacts import`) and as closed conversations keep it current.

A change names only the fields it sets; the others keep what is stored. `null` (or "") clears a field (in a CSV
file an empty cell sets nothing). Attributes are merged key by key, as a CRM sync expects — a file carrying only
`plan` leaves `segment` alone — and an attribute set to `null` is removed. What the service records
on its own (opted out, unreachable, last surveyed, last message) is never written here.

Every problem is one line naming the field, so a caller can hand it back as it is (a 422, a CSV line's reason)."""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any
from zoneinfo import available_timezones

from core.messages import LOCALES, language
from core.schedules import zone

CONSENTS = ("granted", "denied")
# The columns' widths (core/store/tables.py ContactRow).
WIDTHS = {
    "profile": 64, "channel": 32, "user_id": 128, "locale": 16, "name": 256, "timezone": 64, "external_id": 191,
    "conversation_id": 191, "workspace": 64,
}  # fmt: skip
TEXT_FIELDS = ("locale", "timezone", "name", "external_id", "conversation_id", "workspace")
FIELDS = (*TEXT_FIELDS, "consent", "attributes")  # what a change may set; consent_at is when consent changed
MAX_ATTRIBUTES = 50  # in one change
MAX_KEY = 64
MAX_VALUE = 256  # characters of a text attribute
MAX_INT = 2**53 - 1  # every JSON reader (a browser's included) holds a whole number up to it exactly
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_LOCALE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # PostgreSQL text holds neither NUL nor a lone surrogate
Attribute = str | int | float | bool
HOST_FILES = frozenset({"localtime", "posixrules", "Factory"})  # in the zone database's folder, naming no zone
ZONE_NAMES = tuple(sorted(available_timezones() - HOST_FILES))  # what `timezone` accepts, for the API's document


class InvalidContact(ValueError):
    """One value a contact cannot hold; `str()` is one line starting with the field."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name


@dataclass(frozen=True, slots=True)
class ContactChange:
    """What one upsert sets for the contact (profile, channel, user_id): only the keys of `values` (a subset of
    FIELDS). `values["attributes"]` is a patch: a key set to None is removed, the others are set."""

    profile: str
    channel: str
    user_id: str
    values: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        return self.profile, self.channel, self.user_id


@dataclass(frozen=True, slots=True)
class Contact:
    """A stored contact as the API returns it."""

    profile: str
    channel: str
    user_id: str
    locale: str | None = None
    name: str | None = None
    timezone: str | None = None
    attributes: Mapping[str, Attribute] = field(default_factory=dict)
    consent: str | None = None
    consent_at: datetime | None = None
    external_id: str | None = None
    conversation_id: str | None = None
    workspace: str | None = None
    opted_out_at: datetime | None = None
    unreachable_at: datetime | None = None
    last_surveyed_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.isoformat() if isinstance(value, datetime) else value
        out["attributes"] = dict(self.attributes)
        return out


def _storable(name: str, value: str, width: int) -> str:
    if len(value) > width:
        raise InvalidContact(name, f"at most {width} characters")
    if _UNSTORABLE.search(value):
        raise InvalidContact(name, "must not contain NUL characters or unpaired surrogates")
    return value


def _text(name: str, value: Any, width: int) -> str | None:
    """A text field: None or "" clears it."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidContact(name, f"must be text, not {type(value).__name__}")
    return _storable(name, value.strip(), width) or None


def address_part(name: str, value: Any, width: int) -> str:
    """The channel or the user id: required, as written (no trimming: it is the platform's id)."""
    if not isinstance(value, str) or not value:
        raise InvalidContact(name, "required (text)")
    return _storable(name, value, width)


def locale_code(value: Any, supported: Collection[str] = LOCALES) -> str | None:
    """'pt-BR' → 'pt' (texts are chosen per language, core.messages); a language the profile has no texts for is
    refused rather than silently read as the default."""
    text = _text("locale", value, WIDTHS["locale"])
    if text is None:
        return None
    if not _LOCALE.match(text):
        raise InvalidContact("locale", f"{text!r} is not a language code such as en, pt-BR or es_419")
    code = language(text)
    if code not in supported:
        raise InvalidContact("locale", f"{text!r}: the profile has texts in {', '.join(supported)}")
    return code


def time_zone(value: Any) -> str | None:
    text = _text("timezone", value, WIDTHS["timezone"])
    if text is None:
        return None
    try:
        if text in HOST_FILES:
            raise ValueError(f"{text!r} is this server's setting, not a time zone: use an IANA name such as UTC")
        return zone(text).key
    except ValueError as exc:
        raise InvalidContact("timezone", str(exc)) from None


def zone_hint(value: str | None) -> str | None:
    """A platform's or help desk's time zone for the customer, or None when it names no zone we know."""
    try:
        return time_zone(value)
    except InvalidContact:
        return None


def consent_value(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = value.strip().lower() if isinstance(value, str) else value
    if text not in CONSENTS:
        raise InvalidContact("consent", f"{value!r}: use granted, denied or null (not recorded)")
    return str(text)


def attribute_key(key: Any) -> str:
    if not isinstance(key, str) or not ATTRIBUTE_KEY.match(key) or len(key) > MAX_KEY:
        shown = repr(key)[:80]
        raise InvalidContact(
            f"attributes.{str(key)[:MAX_KEY]}" if isinstance(key, str) else "attributes",
            f"{shown}: a name is 1 to {MAX_KEY} letters, digits, _ . or -, starting with a letter or _",
        )
    return key


def attribute_value(key: str, value: Any) -> Attribute | None:
    """Text (at most MAX_VALUE characters), a number within ±MAX_INT, true/false; None removes the key."""
    where = f"attributes.{key}"
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > MAX_INT:
            raise InvalidContact(where, f"a number between -{MAX_INT} and {MAX_INT}")
        return value
    if isinstance(value, str):
        return _storable(where, value, MAX_VALUE)
    raise InvalidContact(where, f"text, a number or true/false, not {type(value).__name__} (attributes are flat)")


def attributes_patch(value: Any) -> dict[str, Attribute | None]:
    if not isinstance(value, Mapping):
        raise InvalidContact("attributes", "an object of name: value (a value of null removes that attribute)")
    if len(value) > MAX_ATTRIBUTES:
        raise InvalidContact("attributes", f"at most {MAX_ATTRIBUTES} per contact")
    return {attribute_key(k): attribute_value(k, v) for k, v in value.items()}


_READERS = {
    "timezone": lambda v, _: time_zone(v),
    "consent": lambda v, _: consent_value(v),
    "attributes": lambda v, _: attributes_patch(v),
    "locale": locale_code,
}


def change(
    profile: str,
    channel: Any,
    user_id: Any,
    given: Mapping[str, Any],
    *,
    locales: Collection[str] = LOCALES,
) -> ContactChange:
    """The change `given` asks for the contact `user_id` (called `id` where the operator writes it) of `channel`
    (keys among FIELDS; any other is refused); InvalidContact for the first problem.
    A consent is dated `now` when it changes (core/store/contacts.py), not when it is repeated unchanged."""
    channel = address_part("channel", channel, WIDTHS["channel"])
    user_id = address_part("id", user_id, WIDTHS["user_id"])
    unknown = sorted(set(given) - set(FIELDS))
    if unknown:
        raise InvalidContact(str(unknown[0])[:64], f"not a contact field (use {', '.join(FIELDS)})")
    values: dict[str, Any] = {}
    for name, raw in given.items():
        reader = _READERS.get(name)
        values[name] = reader(raw, locales) if reader else _text(name, raw, WIDTHS[name])
    return ContactChange(profile, channel, user_id, values)
