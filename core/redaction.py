"""Personal data in free text (comments, unparsed replies) turned into placeholders: emails, phone numbers, payment
card numbers, IBANs and the patterns an operator configures. Pure: no I/O, no clock.

Each finder only claims what it can check, so order numbers, dates, prices, times and versions survive:
- phone numbers: Google's libphonenumber (`phonenumbers.PhoneNumberMatcher`, VALID leniency) for the profile's region,
  plus any number written in international form (+34…, 0034…);
- card numbers: 13–19 digits, grouped by spaces or dashes in any way, starting with a payment-industry digit (2–6,
  ISO/IEC 7812) and passing the Luhn check (`stdnum.luhn`);
- IBANs: country code, check digits and BBAN, grouped or not, passing ISO 13616's mod-97 check and the country's
  length and format (`stdnum.iban`);
- operator patterns: compiled with the `regex` module and matched with a time limit, so one pattern that turns out to
  backtrack catastrophically on some text withholds that text instead of stalling the process.
Emails have no library worth its weight for finding them in prose; one linear expression does.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import phonenumbers
import regex
from stdnum import iban as stdnum_iban
from stdnum import luhn

from core.survey import Survey
from core.types import DetractorAlert, EventNotice, OutboundAction


class Mode(enum.StrEnum):
    STORE_REDACTED = "store_redacted"  # redacted before it is stored: the original never reaches the database
    SHOW_REDACTED = "show_redacted"  # stored as written, redacted wherever it is shown
    OFF = "off"


BUILT_IN = ("email", "phone", "card", "iban")
WITHHELD = "[redacted]"  # the whole text, when an operator pattern ran out of time on it
MAX_PATTERN_LENGTH = 500
PATTERN_TIMEOUT = 0.05  # seconds one operator pattern may spend on one text
NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")

# A locale's usual region for numbers written without a country code (overridable per profile).
LOCALE_REGIONS = {"en": "US", "es": "ES", "ca": "ES", "it": "IT", "pt": "PT", "fr": "FR", "de": "DE"}

_EMAIL = re.compile(r"(?<![\w.+%-])[\w.+%-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])")
_SEP = "[ \u00a0\u202f-]"
# Runs of digit groups with one separator between groups; a card is any stretch of whole groups in a run.
_DIGIT_RUN = re.compile(rf"(?<![0-9A-Za-z])[0-9]+(?:{_SEP}[0-9]+)*(?![0-9A-Za-z])")
_GROUP = re.compile(r"[0-9]+")
_IBAN = re.compile(r"[A-Za-z]{2}[0-9]{2}(?:[ \u00a0]?[0-9A-Za-z]){11,32}")
_PHONE_HINT = re.compile(r"[0-9]")


@dataclass(frozen=True, slots=True)
class Redaction:
    """A profile's redaction settings. `patterns` are (name, compiled pattern) pairs from `compile_pattern`."""

    mode: Mode = Mode.STORE_REDACTED
    phone_region: str | None = None  # ISO 3166 alpha-2; None finds only numbers written with their country code
    patterns: tuple[tuple[str, Any], ...] = field(default=(), compare=False)

    @property
    def stores_redacted(self) -> bool:
        return self.mode is Mode.STORE_REDACTED

    def shown(self, text: str | None) -> str | None:
        """Text as the support team, reports and subscribers see it. In store_redacted mode it is redacted again:
        rows stored before the mode was chosen are covered, and redacting twice changes nothing."""
        return text if text is None or self.mode is Mode.OFF else redact(text, self)

    def stored(self, text: str) -> str:
        return redact(text, self) if self.stores_redacted else text


def placeholder(name: str) -> str:
    return f"[{name}]"


def redact(text: str, rules: Redaction) -> str:
    """`text` with every email, phone number, card number, IBAN and operator pattern replaced by its placeholder.
    Idempotent: placeholders hold no digit or @, and operator patterns never rewrite a placeholder."""
    if "@" in text:
        text = _EMAIL.sub(placeholder("email"), text)
    # Until nothing more is found: taking one number out can free the one next to it (a phone number run into a
    # card number), and what a second call would find must be found by the first.
    while _PHONE_HINT.search(text):
        before = text
        text = _replace(text, _ibans(text), placeholder("iban"))
        text = _replace(text, _cards(text), placeholder("card"))
        text = _replace(text, _phones(text, rules.phone_region), placeholder("phone"))
        if text == before:
            break
    for name, pattern in rules.patterns:
        try:
            text = _replace(text, _custom(text, pattern, rules), placeholder(name))
        except TimeoutError:
            return WITHHELD
    return text


def _replace(text: str, spans: Iterator[tuple[int, int]], replacement: str) -> str:
    out, last = [], 0
    for start, end in spans:
        if start < last:  # overlaps what was already replaced
            continue
        out += [text[last:start], replacement]
        last = end
    return "".join(out) + text[last:] if out else text


def _cards(text: str) -> Iterator[tuple[int, int]]:
    """From the first digit group of a run (and again after each card found), the longest stretch of whole groups
    that is a card number. A stretch never starts inside a run, so a card-like tail of a longer reference
    ("123-4567890-1234567") is not taken for one."""
    for run in _DIGIT_RUN.finditer(text):
        groups = [(run.start() + g.start(), run.start() + g.end()) for g in _GROUP.finditer(run.group())]
        i = 0
        while i < len(groups):
            found, digits = None, ""
            for j in range(i, len(groups)):
                digits += text[groups[j][0] : groups[j][1]]
                if len(digits) > 19:
                    break
                if len(digits) >= 13 and digits[0] in "23456" and luhn.is_valid(digits):
                    found = j
            if found is None:
                break
            yield groups[i][0], groups[found][1]
            i = found + 1


def _ibans(text: str) -> Iterator[tuple[int, int]]:
    """A country code and check digits, then the longest stretch that is a valid IBAN (a word may follow it); the
    search goes on right after each one found."""
    pos = last = 0
    while candidate := _IBAN.search(text, pos):
        pos = candidate.start() + 1
        if 0 < candidate.start() != last and text[candidate.start() - 1].isalnum():
            continue  # inside a word, unless right after the IBAN before it
        positions = [candidate.start() + k for k, ch in enumerate(candidate.group()) if not ch.isspace()]
        compact = "".join(text[p] for p in positions).upper()
        for length in range(min(len(compact), 34), 14, -1):
            if stdnum_iban.is_valid(compact[:length]):
                yield candidate.start(), positions[length - 1] + 1
                pos = last = positions[length - 1] + 1
                break


def _phones(text: str, region: str | None) -> Iterator[tuple[int, int]]:
    matcher = phonenumbers.PhoneNumberMatcher(text, region or "ZZ", leniency=phonenumbers.Leniency.VALID)
    for match in matcher:
        yield match.start, match.end


def _custom(text: str, pattern: Any, rules: Redaction) -> Iterator[tuple[int, int]]:
    """Matches that leave every placeholder whole (so a second pass finds nothing new)."""
    names = "|".join(re.escape(n) for n in (*BUILT_IN, *(n for n, _ in rules.patterns)))
    taken = [m.span() for m in re.finditer(rf"\[(?:{names})\]|{re.escape(WITHHELD)}", text)]
    for m in pattern.finditer(text, timeout=PATTERN_TIMEOUT):
        start, end = m.span()
        if end > start and not any(start < b and a < end for a, b in taken):
            yield start, end


# ---- operator patterns ----------------------------------------------------------------------------------------

# Strings on which a backtracking pattern shows itself: long runs of one character, then one that fails the match.
_PROBES = tuple(c * 2000 + tail for c in ("a", "1", " ", "a1", ".") for tail in ("!", "\x00"))
_NESTED = re.compile(r"\((?:[^()\\]|\\.)*[+*}]\)[+*{]")


def compile_pattern(name: str, source: str) -> Any:
    """An operator's pattern, checked before it is used: a ValueError says why it was refused."""
    if not NAME.fullmatch(name):
        raise ValueError("a pattern's name is 1-32 lowercase letters, digits or _, starting with a letter")
    if name in BUILT_IN:
        raise ValueError(f"{name!r} is built in; choose another name")
    if len(source) > MAX_PATTERN_LENGTH:
        raise ValueError(f"at most {MAX_PATTERN_LENGTH} characters")
    if _NESTED.search(source):
        raise ValueError("a repeated group that itself repeats, such as (a+)+, can take exponential time")
    try:
        pattern = regex.compile(source, regex.VERSION0)
    except (regex.error, TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    try:
        if pattern.search("", timeout=PATTERN_TIMEOUT) is not None:
            raise ValueError("matches the empty string, so it would redact nothing but insert placeholders")
        for probe in _PROBES:
            pattern.search(probe, timeout=PATTERN_TIMEOUT)
    except TimeoutError:
        raise ValueError("takes too long on long repetitive text (catastrophic backtracking)") from None
    return pattern


def default_region(locale: str) -> str | None:
    return LOCALE_REGIONS.get(locale.split("-")[0].lower())


def region_code(value: str) -> str:
    """An ISO 3166 alpha-2 region libphonenumber knows, upper-cased; a ValueError otherwise."""
    code = value.upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{value!r} is not a region code libphonenumber knows (ISO 3166 alpha-2, e.g. ES, DE)")
    return code


# ---- where it applies -------------------------------------------------------------------------------------------


def stored_survey(survey: Survey, rules: Redaction) -> Survey:
    """The survey as it is written in store_redacted mode: the comment and the unparsed replies redacted."""
    if not rules.stores_redacted:
        return survey
    comment = None if survey.comment is None else redact(survey.comment, rules)
    unparsed = tuple(redact(t, rules) for t in survey.unparsed)
    if comment == survey.comment and unparsed == survey.unparsed:
        return survey
    return replace(survey, comment=comment, unparsed=unparsed)


class Redactions:
    """Each profile's rules, for code that shows rows of several profiles (API, dashboard, CSV). A profile no longer
    configured gets the default rules, so its rows are shown redacted too."""

    def __init__(self, by_profile: Mapping[str, Redaction]) -> None:
        self.by_profile = dict(by_profile)
        self.default = Redaction()

    def rules(self, profile: str) -> Redaction:
        return self.by_profile.get(profile, self.default)

    def text(self, profile: str, text: str | None) -> str | None:
        return self.rules(profile).shown(text)

    def item(self, item: dict[str, Any]) -> dict[str, Any]:
        """A response, comment or follow-up as shown: its `comment` and `unparsed` redacted by its profile's rules."""
        return shown_item(item, self.rules(str(item.get("profile", ""))))

    def items(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self.item(i) for i in items]


def shown_item(item: dict[str, Any], rules: Redaction) -> dict[str, Any]:
    out = dict(item)
    if isinstance(out.get("comment"), str):
        out["comment"] = rules.shown(out["comment"])
    if isinstance(out.get("unparsed"), list):
        out["unparsed"] = [rules.shown(t) if isinstance(t, str) else t for t in out["unparsed"]]
    return out


def shown_action(action: OutboundAction, rules: Redaction | None) -> OutboundAction:
    """What leaves for the support team or a subscriber, redacted as the profile shows comments (None: a profile
    no longer configured, shown with the default rules). Applied as each message is sent, so every alert and event
    is covered, however it was queued. Customer-facing messages hold no comment and pass unchanged."""
    rules = Redaction() if rules is None else rules
    if rules.mode is Mode.OFF:
        return action
    if isinstance(action, DetractorAlert) and action.comment:
        shown = redact(action.comment, rules)
        if shown != action.comment:  # the alert's text quotes the comment: only that part changes
            return replace(action, comment=shown, text=action.text.replace(action.comment, shown))
    if isinstance(action, EventNotice):
        data = shown_item(action.data, rules)
        if data != action.data:
            return replace(action, data=data)
    return action
