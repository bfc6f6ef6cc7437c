"""`profiles.<name>.rules` in the YAML file: what check-config says about each mistake (by key path), and the
core rules a valid file turns into."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bots.channels import discover
from bots.config import ConfigError, parse_config
from core.profiles import AlertTarget
from core.routing import Rule, Then, When

SLACK = {"bot_token": "xoxb-test-token", "signing_secret": "s3cret-signing"}


def config(rules: list[Any], **profile: Any) -> dict[str, Any]:
    base = {"brand": "Acme", "channels": {"slack": SLACK, "memory": {}}, "rules": rules}
    return {"profiles": {"acme": base | profile}}


def problems(rules: list[Any], **profile: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(config(rules, **profile), env={})
    return caught.value.problems


def test_a_valid_file_becomes_core_rules_in_order() -> None:
    rules = [
        {
            "name": "angry vip",
            "when": {"score": "0-3", "metadata": {"plan": ["enterprise", "vip"], "seats": 40}, "team": "care"},
            "then": {
                "priority": "urgent",
                "alert": [{"channel": "slack", "destination": "C0VIP"}],
                "alert_mode": "add",
                "claim_within": "30m",
                "resolve_within": "1d",
                "escalate_to": [{"channel": "slack", "destination": "C0HEAD"}],
                "tags": "vip",
            },
        },
        {"name": "billing", "when": {"themes": ["billing"], "keywords": "refund"}, "then": {"emit": "ticket.create"}},
        {"name": "rest", "then": {"stop": True}},
    ]
    themes = {"billing": {"en": ["invoice"]}}
    subs = [{"url": "https://hooks.example/t", "events": ["ticket.create", "detractor.escalated"]}]
    settings = parse_config(config(rules, themes=themes, subscriptions=subs), env={}).profile_settings()["acme"]
    assert settings.rules == (
        Rule(
            "angry vip",
            When(score=(0, 3), team=("care",), metadata=(("plan", ("enterprise", "vip")), ("seats", ("40",)))),
            Then(
                alert=(AlertTarget("slack", "C0VIP"),),
                alert_mode="add",
                priority="urgent",
                tags=("vip",),
                claim_within=timedelta(minutes=30),
                resolve_within=timedelta(days=1),
                escalate_to=(AlertTarget("slack", "C0HEAD"),),
            ),
        ),
        Rule("billing", When(themes=("billing",), keywords=("refund",)), Then(emit=("ticket.create",))),
        Rule("rest", When(), Then(stop=True)),
    )
    # Members of the rules' alert and escalation channels may claim and resolve, like the profile's own.
    assert settings.alert_destinations("slack") == {"C0VIP", "C0HEAD"}
    assert parse_config(config([]), env={}).profile_settings()["acme"].rules == ()


def test_each_mistake_is_named_by_its_key_path() -> None:
    found = problems(
        [
            {"name": "a", "when": {"score": "11"}, "then": {"priority": "now"}},
            {"name": "b", "when": {"score": "6-2", "category": ["detractor", "angry"]}, "then": {}},
            {"name": "c", "when": {"colour": "red"}, "then": {"tags": ["Bad Tag"], "claim_within": "soon"}},
            {"name": "d", "then": {"emit": ["detractor.escalated"], "resolve_within": "0s"}},
            {"name": "e", "then": {"alert_mode": "add", "emit": "notdotted"}},
            {"name": "f", "then": {"alert": [{"channel": "sms", "destination": "x"}]}},
            {"name": "", "when": {"metadata": {"plan": {"nested": 1}}, "keywords": ["!!"]}, "then": {"stop": True}},
        ]
    )
    p = "profiles.acme.rules"
    unknown_channel = f"{p}[5].then.alert[0].channel: unknown channel 'sms'; known: "
    assert [line if not line.startswith(unknown_channel) else unknown_channel for line in found] == [
        f"{p}[0].when.score: expected a score 0-10 or a range such as 0-6 (low end first), got '11'",
        f"{p}[0].then.priority: Input should be 'low', 'normal', 'high' or 'urgent'",
        f"{p}[1].when.score: expected a score 0-10 or a range such as 0-6 (low end first), got '6-2'",
        f"{p}[1].when.category[1]: Input should be 'detractor', 'passive' or 'promoter'",
        f"{p}[1].then: give at least one action: alert, priority, tags, emit, stop, claim_within, resolve_within",
        f"{p}[2].when.colour: Extra inputs are not permitted",
        f"{p}[2].then.tags[0]: 'Bad Tag' is not a tag (lowercase letters, digits, - _ : . ; at most 64)",
        f"{p}[2].then.claim_within: expected a duration such as 30s, 24h or 7d, got 'soon'",
        f"{p}[3].then.emit: detractor.escalated is raised by a missed SLA (claim_within / resolve_within), not by a"
        " rule",
        f"{p}[3].then.resolve_within: must be longer than 0s",
        f"{p}[4].then.emit[0]: 'notdotted' is not an event type (dotted lowercase words, e.g. ticket.create)",
        unknown_channel,
        f"{p}[6].name: a rule name is letters, digits, spaces or - _ . : (at most 64), e.g. angry-vip",
        f"{p}[6].when.keywords: keyword 0 ('!!') has no word in it",
        f"{p}[6].when.metadata.plan: expected a value (text, number, true/false) or a list of them",
    ]
    assert "slack" in next(line for line in found if line.startswith(unknown_channel))  # names the known ones
    assert problems([{"name": "x", "then": {"alert_mode": "add"}}]) == [
        f"{p}[0].then: alert_mode says how `alert` targets join the profile's alerts: give alert too"
    ]


def test_rules_that_do_not_fit_the_profile() -> None:
    found = problems(
        [
            {"name": "one", "when": {"channel": "sms", "themes": "billing"}, "then": {"tags": "x"}},
            {"name": "one", "when": {"category": "promoter"}, "then": {"claim_within": "1h"}},
            {"name": "three", "then": {"escalate_to": [{"channel": "telegram", "destination": "-100"}]}},
            {"name": "four", "when": {"score": "7-10"}, "then": {"alert": [{"channel": "slack", "destination": "C"}]}},
        ],
        subscriptions=[{"url": "https://hooks.example/t", "events": ["ticket.create"]}],
    )
    p = "profiles.acme"
    assert found == [
        f"{p}.rules[0].when.channel: the profile has no sms channel configured",
        f"{p}.rules[0].when.themes: the profile defines no themes (add them under themes:)",
        f"{p}.rules[1].name: 'one' is already the name of rules[0]",
        f"{p}.rules[1].then.claim_within: alerts and SLAs act on the detractor follow-up (scores 0-6), and this rule's"
        " score / category let no detractor through",
        f"{p}.rules[2].then.escalate_to[0].channel: the profile has no telegram channel",
        f"{p}.rules[3].then.alert: alerts and SLAs act on the detractor follow-up (scores 0-6), and this rule's score"
        " / category let no detractor through",
        f"{p}.subscriptions[0].events: unknown event types ['ticket.create']; known: ['survey.responded',"
        " 'survey.completed', 'detractor.created', 'detractor.escalated']",
    ]
    themes = {"billing": {"en": ["invoice"]}, "speed": {"en": ["slow"]}}
    assert problems([{"name": "t", "when": {"themes": ["bills"]}, "then": {"tags": "x"}}], themes=themes) == [
        f"{p}.rules[0].when.themes: unknown theme 'bills'; the profile's themes: billing, speed"
    ]


def test_an_alert_channel_that_talks_only_to_customers_is_refused() -> None:
    customers_only = sorted(name for name, spec in discover().specs.items() if not spec.alerts)
    if not customers_only:
        pytest.skip("no installed channel is for customers only")
    name = customers_only[0]
    found = problems([{"name": "x", "then": {"escalate_to": [{"channel": name, "destination": "d"}]}}])
    assert found == [
        f"profiles.acme.rules[0].then.escalate_to[0].channel: the {name} channel does not carry alerts (it only talks"
        " to customers)"
    ]


def test_a_destination_is_checked_in_the_form_its_channel_reads() -> None:
    found = problems([{"name": "x", "then": {"escalate_to": [{"channel": "slack", "destination": "T0123ABCD/"}]}}])
    assert found == [
        "profiles.acme.rules[0].then.escalate_to[0].destination: expected <workspace>/<channel>, e.g. "
        "T0123ABCD/C0456EFGH (a team id, or an E… org id)"
    ]
