"""Routing rules: a profile's ordered rules decide, for each answered survey, who is alerted, how urgent it is, which
tags it carries, which outbound events it raises and how fast its follow-up must move. Pure: no clock, no I/O.

Rules are read twice. When the score arrives, the comment is not in yet: a condition on themes or keywords is not
known, so its rule *waits* (and a waiting rule that would stop evaluation hides every rule after it until then).
When the survey completes, everything is known and the decision is final. Every condition's result is kept, so
`npsbot rules test` can say why a rule matched or not.

Combining matched rules, in order, up to the first that stops: priority, claim_within, resolve_within and
escalate_to come from the first matched rule that sets them; alert targets, tags and events accumulate. The
profile's own alert targets stay unless a matched rule alerts in `replace` mode (the default); with no rule
matching, everything is as it would be without rules.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from core.scoring import classify
from core.themes.matcher import keys, language

if TYPE_CHECKING:
    from core.survey import Survey

PRIORITIES = ("low", "normal", "high", "urgent")
DEFAULT_PRIORITY = "normal"
CATEGORIES = ("detractor", "passive", "promoter")
ALERT_MODES = ("replace", "add")
DETRACTOR_SCORES = (0, 6)


class Target(Protocol):
    """Where an alert goes (a core.profiles.AlertTarget): routing only passes them on."""

    @property
    def channel(self) -> str: ...

    @property
    def destination(self) -> str: ...


class Match(enum.StrEnum):
    MATCHED = "matched"
    NO_MATCH = "no_match"
    WAITING = "waiting"  # a condition needs the comment, which is not in yet
    NOT_REACHED = "not_reached"  # a rule before it stopped evaluation (or may, once the comment is in)


@dataclass(frozen=True, slots=True)
class When:
    """A rule's conditions; all must hold. A list means any of its values; an empty one is no condition."""

    score: tuple[int, int] | None = None  # inclusive range
    category: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    team: tuple[str, ...] = ()
    agent: tuple[str, ...] = ()
    locale: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    metadata: tuple[tuple[str, tuple[str, ...]], ...] = ()  # field → accepted values (as text)

    def scores(self) -> frozenset[int]:
        """The scores the score and category conditions let through."""
        low, high = self.score or (0, 10)
        allowed = {s for s in range(low, high + 1)}
        if self.category:
            allowed = {s for s in allowed if classify(s) in self.category}
        return frozenset(allowed)


@dataclass(frozen=True, slots=True)
class Then:
    """A rule's actions."""

    alert: tuple[Target, ...] = ()
    alert_mode: str = "replace"
    priority: str | None = None
    tags: tuple[str, ...] = ()
    emit: tuple[str, ...] = ()
    stop: bool = False
    claim_within: timedelta | None = None
    resolve_within: timedelta | None = None
    escalate_to: tuple[Target, ...] = ()

    @property
    def follow_up(self) -> bool:
        """Whether it acts on the detractor follow-up (alerts and SLAs exist for detractors only)."""
        return bool(self.alert or self.escalate_to or self.claim_within or self.resolve_within)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    when: When = field(default_factory=When)
    then: Then = field(default_factory=Then)


@dataclass(frozen=True, slots=True)
class Facts:
    """What a rule can look at. `themes` and `comment` are None while the comment is not in yet."""

    score: int
    channel: str
    locale: str
    team: str | None = None
    agent: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    themes: tuple[str, ...] | None = None
    comment: str | None = None

    @property
    def complete(self) -> bool:
        return self.themes is not None

    @property
    def category(self) -> str:
        return classify(self.score)

    @classmethod
    def of(cls, survey: Survey, *, complete: bool) -> Facts:
        """A scored survey's facts; `complete` once its comment is in (or will never come)."""
        if survey.score is None:
            raise ValueError("rules act on answered surveys only")
        return cls(
            score=survey.score,
            channel=survey.address.channel,
            locale=survey.locale,
            team=survey.team,
            agent=survey.agent,
            metadata=survey.metadata,
            themes=tuple(survey.themes) if complete else None,
            comment=survey.comment if complete else None,
        )


@dataclass(frozen=True, slots=True)
class Check:
    """One condition's result: None when it cannot be known yet."""

    condition: str  # score, category, themes, channel, team, agent, locale, keywords, metadata.<field>
    expected: str
    actual: str
    result: bool | None


@dataclass(frozen=True, slots=True)
class Verdict:
    rule: Rule
    outcome: Match
    checks: tuple[Check, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    """What the rules decided for one survey at one point."""

    verdicts: tuple[Verdict, ...]
    priority: str = DEFAULT_PRIORITY
    tags: tuple[str, ...] = ()
    emit: tuple[str, ...] = ()
    alert_targets: tuple[Target, ...] = ()  # a detractor's alert goes to these
    defaults_replaced: bool = False
    claim_within: timedelta | None = None
    resolve_within: timedelta | None = None
    escalate_to: tuple[Target, ...] = ()  # empty: the escalation goes where the alert went
    stopped_by: str | None = None

    @property
    def matched(self) -> tuple[str, ...]:
        return tuple(v.rule.name for v in self.verdicts if v.outcome is Match.MATCHED)

    @property
    def has_sla(self) -> bool:
        return self.claim_within is not None or self.resolve_within is not None

    @property
    def escalation_targets(self) -> tuple[Target, ...]:
        return self.escalate_to or self.alert_targets


# ---- conditions ---------------------------------------------------------------------------------------------------


def _same(a: str | None, b: str) -> bool:
    return a is not None and a.casefold() == b.casefold()


def _either(values: Sequence[str]) -> str:
    return " or ".join(values)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def field_values(metadata: Mapping[str, Any], name: str) -> list[str] | None:
    """A metadata field's value(s) as text: the key as written, else a dotted path into nested mappings
    (`customer.plan`); a list gives each of its items. None when the field is absent."""
    value: Any = metadata.get(name, _MISSING)
    if value is _MISSING:
        value = metadata
        for part in name.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return None
            value = value[part]
    if value is None:
        return None
    items = value if isinstance(value, list | tuple) else [value]
    return [_text(v) for v in items if v is not None and not isinstance(v, Mapping | list)]


_MISSING = object()


def mentions(comment: str, keyword: str, locale: str) -> bool:
    """A keyword (a word or phrase) appears in the comment, compared on word roots as themes are (core/themes), so
    `refund` finds `refunded` and `cancelar` finds `cancelaré`, whatever the case or accents."""
    lang = language(locale)
    wanted, words = keys(keyword, lang), keys(comment, lang)
    if not wanted:
        return False
    n = len(wanted)
    return any(words[i : i + n] == wanted for i in range(len(words) - n + 1))


def checks(when: When, facts: Facts) -> tuple[Check, ...]:
    """Each condition of `when` against the facts, in a fixed order."""
    out: list[Check] = []
    if when.score is not None:
        low, high = when.score
        expected = str(low) if low == high else f"{low}-{high}"
        out.append(Check("score", expected, str(facts.score), low <= facts.score <= high))
    if when.category:
        out.append(Check("category", _either(when.category), facts.category, facts.category in when.category))
    for name, actual in (("channel", facts.channel), ("team", facts.team), ("agent", facts.agent)):
        wanted: tuple[str, ...] = getattr(when, name)
        if wanted:
            hit = any(_same(actual, w) for w in wanted)
            out.append(Check(name, _either(wanted), actual if actual is not None else "(none)", hit))
    if when.locale:
        lang = language(facts.locale)
        out.append(Check("locale", _either(when.locale), facts.locale, lang in {language(v) for v in when.locale}))
    for name, accepted in when.metadata:
        values = field_values(facts.metadata, name)
        hit = values is not None and any(_same(v, a) for v in values for a in accepted)
        shown = "(absent)" if values is None else ", ".join(values) or "(empty)"
        out.append(Check(f"metadata.{name}", _either(accepted), shown, hit))
    if when.themes:
        if facts.themes is None:
            out.append(Check("themes", _either(when.themes), "(comment not in yet)", None))
        else:
            found = [t for t in when.themes if t in facts.themes]
            shown = ", ".join(facts.themes) or "(none)"
            out.append(Check("themes", _either(when.themes), shown, bool(found)))
    if when.keywords:
        if not facts.complete:
            out.append(Check("keywords", _either(when.keywords), "(comment not in yet)", None))
        else:
            comment = facts.comment or ""
            found = [k for k in when.keywords if comment and mentions(comment, k, facts.locale)]
            shown = ("found " + ", ".join(found)) if found else "(no comment)" if not comment else "none found"
            out.append(Check("keywords", _either(when.keywords), shown, bool(found)))
    return tuple(out)


def outcome_of(results: Sequence[Check]) -> Match:
    if any(c.result is False for c in results):
        return Match.NO_MATCH
    if any(c.result is None for c in results):
        return Match.WAITING
    return Match.MATCHED


# ---- evaluation ---------------------------------------------------------------------------------------------------


def _add(into: list[Any], items: Sequence[Any]) -> None:
    for item in items:
        if item not in into:
            into.append(item)


def evaluate(rules: Sequence[Rule], facts: Facts, defaults: Sequence[Target] = ()) -> Decision:
    """Walk the rules in order and combine what the matched ones do (see the module's docstring)."""
    verdicts: list[Verdict] = []
    halted: str | None = None
    stopped_by: str | None = None
    priority: str | None = None
    claim: timedelta | None = None
    resolve: timedelta | None = None
    escalate: tuple[Target, ...] = ()
    tags: list[str] = []
    emit: list[str] = []
    added: list[Target] = []
    replaced = False
    for rule in rules:
        results = checks(rule.when, facts)
        if halted is not None:
            verdicts.append(Verdict(rule, Match.NOT_REACHED, results))
            continue
        outcome = outcome_of(results)
        verdicts.append(Verdict(rule, outcome, results))
        if outcome is Match.WAITING and rule.then.stop:
            halted = rule.name  # whether evaluation goes past it is known once the comment is in
        if outcome is not Match.MATCHED:
            continue
        then = rule.then
        priority = priority or then.priority
        claim = claim or then.claim_within
        resolve = resolve or then.resolve_within
        escalate = escalate or then.escalate_to
        _add(tags, then.tags)
        _add(emit, then.emit)
        if then.alert:
            _add(added, then.alert)
            replaced = replaced or then.alert_mode == "replace"
        if then.stop:
            halted = stopped_by = rule.name
    targets: list[Target] = [] if replaced else list(defaults)
    _add(targets, added)
    return Decision(
        verdicts=tuple(verdicts),
        priority=priority or DEFAULT_PRIORITY,
        tags=tuple(tags),
        emit=tuple(emit),
        alert_targets=tuple(targets),
        defaults_replaced=replaced,
        claim_within=claim,
        resolve_within=resolve,
        escalate_to=escalate,
        stopped_by=stopped_by,
    )


def can_match_detractors(when: When) -> bool:
    return any(s <= DETRACTOR_SCORES[1] for s in when.scores())


def explain(decision: Decision, facts: Facts) -> dict[str, Any]:
    """The decision as JSON: each rule in order with each condition's result, then what would be done."""
    detractor = facts.category == "detractor"
    return {
        "point": "completed" if facts.complete else "scored",
        "category": facts.category,
        "rules": [
            {
                "name": v.rule.name,
                "outcome": str(v.outcome),
                "stops": v.rule.then.stop,
                "conditions": [
                    {"condition": c.condition, "expected": c.expected, "actual": c.actual, "result": c.result}
                    for c in v.checks
                ],
            }
            for v in decision.verdicts
        ],
        "matched": list(decision.matched),
        "stopped_by": decision.stopped_by,
        "actions": {
            "priority": decision.priority,
            "tags": list(decision.tags),
            "emit": list(decision.emit),
            "alert": [_target(t) for t in decision.alert_targets] if detractor else [],
            "defaults_replaced": decision.defaults_replaced,
            "claim_within_seconds": _seconds(decision.claim_within) if detractor else None,
            "resolve_within_seconds": _seconds(decision.resolve_within) if detractor else None,
            "escalate_to": [_target(t) for t in decision.escalation_targets] if detractor and decision.has_sla else [],
        },
    }


def _target(t: Target) -> dict[str, str]:
    return {"channel": t.channel, "destination": t.destination}


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()
