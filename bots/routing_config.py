"""`profiles.<name>.rules`: routing rules and follow-up SLAs in the YAML file, checked key by key (pydantic, every
problem named by its path, e.g. `profiles.acme.rules[2].when.score: ...`) and turned into core.routing's rules.

    rules:
      - name: angry-vip
        when: {score: 0-3, metadata: {plan: [enterprise, vip]}}
        then: {priority: urgent, alert: [{channel: slack, destination: C0VIP}], alert_mode: add,
               claim_within: 30m, resolve_within: 1d, escalate_to: [{channel: slack, destination: C0LEADS}]}
      - name: billing
        when: {themes: [billing]}
        then: {tags: [billing], emit: [ticket.create], stop: true}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Protocol

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from bots.channel_checks import alert_problems
from bots.channels import discover
from bots.durations import PositiveDuration
from core.profiles import EVENT_TYPES, AlertTarget
from core.routing import Rule, Then, When, can_match_detractors

RULE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.:-]{0,63}")
TAG = re.compile(r"[a-z0-9][a-z0-9_:.-]{0,63}")
EVENT_NAME = re.compile(r"[a-z][a-z0-9_-]*(?:\.[a-z][a-z0-9_-]*)+")  # dotted, as the built-in ones: ticket.create
ESCALATED = "detractor.escalated"  # raised by the SLA, never by a rule
FOLLOW_UP_KEYS = ("alert", "claim_within", "resolve_within", "escalate_to")


class ProfileView(Protocol):
    """What the checks read of a profile's configuration (bots.profile_config.ProfileConfig; rules, themes too)."""

    channels: dict[str, BaseModel]
    subscriptions: list[Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _listed(value: Any) -> Any:
    """One value or a list of them."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _scalars(value: Any) -> Any:
    """A metadata value or a list of values, each a string, number or boolean, compared as text."""
    out = []
    for item in _listed(value):
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            out.append(str(item))
        else:
            raise ValueError("expected a value (text, number, true/false) or a list of them")
    if not out:
        raise ValueError("expected a value (text, number, true/false) or a list of them")
    return out


def _score(value: Any) -> Any:
    """`7`, `"7"` or a range `"0-6"`, within 0..10."""
    if value is None:
        return None
    problem = "expected a score 0-10 or a range such as 0-6"
    if isinstance(value, bool):
        raise ValueError(problem)
    if isinstance(value, int):
        low = high = value
    elif isinstance(value, str) and (m := re.fullmatch(r"\s*(\d{1,2})\s*(?:-\s*(\d{1,2})\s*)?", value)):
        low, high = int(m.group(1)), int(m.group(2) or m.group(1))
    else:
        raise ValueError(f"{problem}, got {value!r}")
    if not 0 <= low <= high <= 10:
        raise ValueError(f"{problem} (low end first), got {value!r}")
    return (low, high)


def _pattern(pattern: re.Pattern[str], what: str) -> Any:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


Listed = Annotated[list[str], BeforeValidator(_listed)]
Tag = Annotated[str, _pattern(TAG, "a tag (lowercase letters, digits, - _ : . ; at most 64)")]
EventName = Annotated[str, _pattern(EVENT_NAME, "an event type (dotted lowercase words, e.g. ticket.create)")]


class TargetConfig(_Strict):
    """Where an alert or escalation goes: a profile's `alerts` entries, a rule's `alert` and `escalate_to`."""

    channel: str
    destination: str = Field(min_length=1)

    @field_validator("channel")
    @classmethod
    def _carries_alerts(cls, v: str) -> str:
        found = discover()
        spec = found.specs.get(v)
        if spec is None:
            raise ValueError(found.unknown(v))
        if not spec.alerts:
            raise ValueError(f"the {v} channel does not carry alerts (it only talks to customers)")
        return v

    def target(self) -> AlertTarget:
        return AlertTarget(self.channel, self.destination)


class WhenConfig(_Strict):
    """All conditions must hold; a list means any of its values; no condition at all matches every response."""

    score: Annotated[tuple[int, int] | None, BeforeValidator(_score)] = None
    category: Annotated[list[Literal["detractor", "passive", "promoter"]], BeforeValidator(_listed)] = []
    themes: Listed = []
    channel: Listed = []
    team: Listed = []
    agent: Listed = []
    locale: Listed = []
    keywords: Listed = []
    metadata: dict[str, Annotated[list[str], BeforeValidator(_scalars)]] = {}

    @field_validator("keywords")
    @classmethod
    def _words(cls, v: list[str]) -> list[str]:
        for i, keyword in enumerate(v):
            if not re.search(r"[^\W_]", keyword):
                raise ValueError(f"keyword {i} ({keyword!r}) has no word in it")
        return v

    def when(self) -> When:
        return When(
            score=self.score,
            category=tuple(self.category),
            themes=tuple(self.themes),
            channel=tuple(self.channel),
            team=tuple(self.team),
            agent=tuple(self.agent),
            locale=tuple(self.locale),
            keywords=tuple(self.keywords),
            metadata=tuple((name, tuple(values)) for name, values in self.metadata.items()),
        )


class ThenConfig(_Strict):
    alert: list[TargetConfig] = []
    alert_mode: Literal["replace", "add"] | None = None  # replace (the default) or add to the profile's alerts
    priority: Literal["low", "normal", "high", "urgent"] | None = None
    tags: Annotated[list[Tag], BeforeValidator(_listed)] = []
    emit: Annotated[list[EventName], BeforeValidator(_listed)] = []
    stop: bool = False
    claim_within: PositiveDuration | None = None
    resolve_within: PositiveDuration | None = None
    escalate_to: list[TargetConfig] = []

    @field_validator("emit")
    @classmethod
    def _not_escalated(cls, v: list[str]) -> list[str]:
        if ESCALATED in v:
            raise ValueError(f"{ESCALATED} is raised by a missed SLA (claim_within / resolve_within), not by a rule")
        return v

    @model_validator(mode="after")
    def _does_something(self) -> ThenConfig:
        if self.alert_mode is not None and not self.alert:
            raise ValueError("alert_mode says how `alert` targets join the profile's alerts: give alert too")
        if not self.model_fields_set - {"alert_mode"}:
            raise ValueError(
                "give at least one action: alert, priority, tags, emit, stop, claim_within, resolve_within"
            )
        return self

    def then(self) -> Then:
        return Then(
            alert=tuple(t.target() for t in self.alert),
            alert_mode=self.alert_mode or "replace",
            priority=self.priority,
            tags=tuple(self.tags),
            emit=tuple(self.emit),
            stop=self.stop,
            claim_within=self.claim_within,
            resolve_within=self.resolve_within,
            escalate_to=tuple(t.target() for t in self.escalate_to),
        )


class RuleConfig(_Strict):
    name: str
    when: WhenConfig = Field(default_factory=WhenConfig)
    then: ThenConfig

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not RULE_NAME.fullmatch(v):
            raise ValueError("a rule name is letters, digits, spaces or - _ . : (at most 64), e.g. angry-vip")
        return v

    def rule(self) -> Rule:
        return Rule(self.name, self.when.when(), self.then.then())


def to_rules(configs: list[RuleConfig]) -> tuple[Rule, ...]:
    return tuple(c.rule() for c in configs)


def _theme_names(profile: ProfileView) -> list[str] | None:
    """The profile's theme names, or None when it defines no themes."""
    themes = getattr(profile, "themes", None)
    if isinstance(themes, Mapping):
        return [str(name) for name in themes] or None
    names = getattr(themes, "names", None)  # a model holding the taxonomy
    return list(names) if names else None


def custom_events(profile: ProfileView) -> set[str]:
    """Event types the profile's rules raise besides the built-in ones."""
    return {e for r in getattr(profile, "rules", []) for e in r.then.emit} - set(EVENT_TYPES)


def rule_problems(profile: ProfileView) -> list[str]:
    """What does not fit together between the rules and the rest of the profile, each line naming its key path
    below the profile (`rules[2].then.alert[0].channel: ...`)."""
    rules: list[RuleConfig] = getattr(profile, "rules", [])
    problems: list[str] = []
    seen: dict[str, int] = {}
    themes = _theme_names(profile)
    for i, rule in enumerate(rules):
        where = f"rules[{i}]"
        if rule.name in seen:
            problems.append(f"{where}.name: {rule.name!r} is already the name of rules[{seen[rule.name]}]")
        seen.setdefault(rule.name, i)
        for key in ("alert", "escalate_to"):
            targets = getattr(rule.then, key)
            for j, t in enumerate(targets):
                if t.channel not in profile.channels:
                    problems.append(f"{where}.then.{key}[{j}].channel: the profile has no {t.channel} channel")
            # A destination in the form its channel reads, as for the profile's alerts.
            problems += [
                f"{where}.then.{key}{p.removeprefix('alerts')}" for p in alert_problems(targets, profile.channels)
            ]
        unknown = [c for c in rule.when.channel if c not in profile.channels]
        if unknown:
            problems.append(f"{where}.when.channel: the profile has no {', '.join(unknown)} channel configured")
        if rule.when.themes:
            if themes is None:
                problems.append(f"{where}.when.themes: the profile defines no themes (add them under themes:)")
            elif missing := [t for t in rule.when.themes if t not in themes]:
                problems.append(
                    f"{where}.when.themes: unknown theme {', '.join(map(repr, missing))}; "
                    f"the profile's themes: {', '.join(themes)}"
                )
        set_keys = [k for k in FOLLOW_UP_KEYS if getattr(rule.then, k)]
        if set_keys and not can_match_detractors(rule.when.when()):
            problems.append(
                f"{where}.then.{set_keys[0]}: alerts and SLAs act on the detractor follow-up (scores 0-6), and this "
                "rule's score / category let no detractor through"
            )
    return problems


def subscription_problems(profile: ProfileView) -> list[str]:
    """A subscription may want an event a rule emits; any other unknown type is a typo."""
    known = [*EVENT_TYPES, *sorted(custom_events(profile))]
    problems = []
    for i, sub in enumerate(profile.subscriptions):
        unknown = sorted(set(sub.events) - set(known))
        if unknown:
            problems.append(f"subscriptions[{i}].events: unknown event types {unknown}; known: {known}")
    return problems
