"""Routing rules as pure functions: properties over random rule lists (order, stop, no rule → defaults, add vs
replace, what is known when scored), and each kind of condition on its own."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from core.profiles import AlertTarget
from core.routing import Facts, Match, Rule, Then, When, can_match_detractors, evaluate, explain, mentions

DEFAULTS = (AlertTarget("slack", "C0LEADS"),)
TARGETS = [AlertTarget("slack", "C0VIP"), AlertTarget("telegram", "-100"), AlertTarget("slack", "C0LEADS")]


@st.composite
def whens(draw: st.DrawFn) -> When:
    low = draw(st.integers(0, 10))
    score = draw(st.none() | st.just((low, draw(st.integers(low, 10)))))
    return When(
        score=score,
        category=tuple(draw(st.lists(st.sampled_from(["detractor", "passive", "promoter"]), max_size=2, unique=True))),
        themes=tuple(draw(st.lists(st.sampled_from(["billing", "speed"]), max_size=1))),
        channel=tuple(draw(st.lists(st.sampled_from(["slack", "telegram"]), max_size=1))),
        team=tuple(draw(st.lists(st.sampled_from(["care", "tech"]), max_size=1))),
        keywords=tuple(draw(st.lists(st.sampled_from(["refund", "cancel"]), max_size=1))),
    )


@st.composite
def thens(draw: st.DrawFn) -> Then:
    return Then(
        alert=tuple(draw(st.lists(st.sampled_from(TARGETS), max_size=2, unique=True))),
        alert_mode=draw(st.sampled_from(["replace", "add"])),
        priority=draw(st.none() | st.sampled_from(["low", "normal", "high", "urgent"])),
        tags=tuple(draw(st.lists(st.sampled_from(["vip", "churn", "billing"]), max_size=2, unique=True))),
        emit=tuple(draw(st.lists(st.sampled_from(["ticket.create", "crm.note"]), max_size=1))),
        stop=draw(st.booleans()),
        claim_within=draw(st.none() | st.sampled_from([timedelta(hours=1), timedelta(hours=4)])),
    )


@st.composite
def rule_lists(draw: st.DrawFn) -> list[Rule]:
    return [Rule(f"r{i}", w, t) for i, (w, t) in enumerate(draw(st.lists(st.tuples(whens(), thens()), max_size=6)))]


@st.composite
def facts(draw: st.DrawFn, complete: bool | None = None) -> Facts:
    done = draw(st.booleans()) if complete is None else complete
    return Facts(
        score=draw(st.integers(0, 10)),
        channel=draw(st.sampled_from(["slack", "telegram"])),
        locale="en",
        team=draw(st.none() | st.sampled_from(["care", "tech"])),
        themes=tuple(draw(st.lists(st.sampled_from(["billing", "speed"]), unique=True))) if done else None,
        comment=draw(st.sampled_from([None, "I want a refund", "I will cancel", "ok"])) if done else None,
    )


def matched(rules: list[Rule], f: Facts) -> list[Rule]:
    """The rules a plain reading says apply: each that matches, in order, up to and including the first that
    stops."""
    out = []
    for rule in rules:
        verdict = evaluate([rule], f).verdicts[0]
        if verdict.outcome is Match.MATCHED:
            out.append(rule)
            if rule.then.stop:
                break
        elif verdict.outcome is Match.WAITING and rule.then.stop:
            break
    return out


@settings(max_examples=300, deadline=None)
@given(rule_lists(), facts())
def test_single_valued_actions_come_from_the_first_matched_rule_that_sets_them(rules: list[Rule], f: Facts) -> None:
    d = evaluate(rules, f, DEFAULTS)
    hits = matched(rules, f)
    assert list(d.matched) == [r.name for r in hits]
    assert d.priority == next((r.then.priority for r in hits if r.then.priority), "normal")
    assert d.claim_within == next((r.then.claim_within for r in hits if r.then.claim_within), None)
    assert set(d.tags) == {t for r in hits for t in r.then.tags}
    assert set(d.emit) == {e for r in hits for e in r.then.emit}


@settings(max_examples=300, deadline=None)
@given(rule_lists(), facts(), rule_lists())
def test_nothing_after_a_matched_stop_counts(rules: list[Rule], f: Facts, more: list[Rule]) -> None:
    d = evaluate(rules, f, DEFAULTS)
    if d.stopped_by is None:
        return
    extended = rules + [replace(r, name=f"more{i}") for i, r in enumerate(more)]
    e = evaluate(extended, f, DEFAULTS)
    assert (e.priority, e.tags, e.emit, e.alert_targets, e.matched) == (
        d.priority,
        d.tags,
        d.emit,
        d.alert_targets,
        d.matched,
    )
    assert all(v.outcome is Match.NOT_REACHED for v in e.verdicts[len(rules) :])


@settings(max_examples=200, deadline=None)
@given(facts(), st.lists(thens(), max_size=4))
def test_no_rule_or_no_match_leaves_the_defaults(f: Facts, actions: list[Then]) -> None:
    never = When(score=(0, 0), channel=("nowhere",))  # no survey is on a channel called nowhere
    for rules in ([], [Rule(f"n{i}", never, t) for i, t in enumerate(actions)]):
        d = evaluate(rules, f, DEFAULTS)
        assert (d.priority, d.tags, d.emit, d.alert_targets, d.matched) == ("normal", (), (), DEFAULTS, ())
        assert (d.claim_within, d.resolve_within, d.escalate_to, d.defaults_replaced) == (None, None, (), False)


@settings(max_examples=300, deadline=None)
@given(rule_lists(), facts())
def test_add_keeps_the_defaults_and_replace_drops_them(rules: list[Rule], f: Facts) -> None:
    d = evaluate(rules, f, DEFAULTS)
    alerting = [r for r in matched(rules, f) if r.then.alert]
    routed = {t for r in alerting for t in r.then.alert}
    assert set(d.alert_targets) >= routed
    replaced = any(r.then.alert_mode == "replace" for r in alerting)
    assert d.defaults_replaced is replaced
    assert set(d.alert_targets) == (routed if replaced else routed | set(DEFAULTS))
    assert len(d.alert_targets) == len(set(d.alert_targets))  # each target alerted once


@settings(max_examples=300, deadline=None)
@given(rule_lists(), facts(complete=True))
def test_what_matched_when_scored_still_matches_when_completed(rules: list[Rule], done: Facts) -> None:
    """Rules decided when the score came in keep their verdict, so an event they emitted then is never emitted
    again, and no rule that needs the comment fires before it is in."""
    scored = replace(done, themes=None, comment=None)
    early, final = evaluate(rules, scored, DEFAULTS), evaluate(rules, done, DEFAULTS)
    assert set(early.matched) <= set(final.matched)
    assert set(early.emit) <= set(final.emit)
    for v in early.verdicts:
        if v.rule.when.themes or v.rule.when.keywords:
            assert v.outcome is not Match.MATCHED


def test_order_matters() -> None:
    urgent = Rule("urgent", When(score=(0, 3)), Then(priority="urgent", tags=("angry",)))
    low = Rule("low", When(category=("detractor",)), Then(priority="low", tags=("detractor",)))
    f = Facts(score=2, channel="slack", locale="en")
    assert evaluate([urgent, low], f).priority == "urgent"
    assert evaluate([low, urgent], f).priority == "low"
    assert evaluate([urgent, low], f).tags == ("angry", "detractor")
    assert evaluate([low, urgent], f).tags == ("detractor", "angry")
    stopping = replace(low, then=replace(low.then, stop=True))
    assert evaluate([stopping, urgent], f).matched == ("low",)
    assert evaluate([urgent, stopping], f).matched == ("urgent", "low")


def test_a_rule_waiting_for_the_comment_holds_back_the_rules_after_it_only_if_it_stops() -> None:
    billing = Rule("billing", When(themes=("billing",)), Then(priority="high", stop=True))
    rest = Rule("rest", When(), Then(tags=("seen",)))
    scored = Facts(score=3, channel="slack", locale="en")
    d = evaluate([billing, rest], scored)
    assert [v.outcome for v in d.verdicts] == [Match.WAITING, Match.NOT_REACHED]
    assert d.priority == "normal" and d.tags == ()
    d = evaluate([replace(billing, then=Then(priority="high")), rest], scored)
    assert [v.outcome for v in d.verdicts] == [Match.WAITING, Match.MATCHED] and d.tags == ("seen",)
    done = replace(scored, themes=("billing",), comment="invoice wrong")
    assert evaluate([billing, rest], done).matched == ("billing",)
    assert evaluate([billing, rest], replace(done, themes=())).matched == ("rest",)


def check(when: When, **fields: object) -> bool | None:
    f = Facts(**{"score": 3, "channel": "slack", "locale": "en", "themes": (), "comment": None, **fields})  # type: ignore[arg-type]
    [verdict] = evaluate([Rule("r", when, Then(stop=True))], f).verdicts
    assert len(verdict.checks) == 1
    return verdict.checks[0].result


def test_each_condition() -> None:
    assert check(When(score=(0, 6)), score=6) is True
    assert check(When(score=(0, 6)), score=7) is False
    assert check(When(score=(9, 9)), score=9) is True
    assert check(When(category=("passive", "promoter")), score=7) is True
    assert check(When(category=("promoter",)), score=8) is False
    assert check(When(channel=("Slack",)), channel="slack") is True  # names compare without case
    assert check(When(channel=("telegram",)), channel="slack") is False
    assert check(When(team=("care", "tech")), team="Tech") is True
    assert check(When(team=("care",)), team=None) is False
    assert check(When(agent=("ana",)), agent="Ana") is True
    assert check(When(agent=("ana",)), agent=None) is False
    assert check(When(locale=("pt",)), locale="pt") is True
    assert check(When(locale=("pt-BR",)), locale="pt") is True  # a language, whatever the region
    assert check(When(locale=("es",)), locale="ca") is False
    assert check(When(themes=("billing", "speed")), themes=("speed",)) is True
    assert check(When(themes=("billing",)), themes=("speed",)) is False
    assert check(When(themes=("billing",)), themes=None) is None  # not known before the comment
    assert check(When(keywords=("cancel",)), themes=None) is None


def test_keywords_match_word_roots_in_the_survey_language() -> None:
    assert mentions("They refunded nothing", "refund", "en")
    assert mentions("I'm CANCELLING my plan", "cancel", "en")
    assert mentions("Cancelaré mi cuenta mañana", "cancelar", "es")
    assert mentions("La facturació és un desastre", "facturació", "ca")
    assert mentions("Je vais résilier l'abonnement", "resilier", "fr")  # accents don't matter
    assert mentions("Ich kündige meinen Vertrag", "kündigen", "de")
    assert mentions("Vou cancelar a assinatura", "cancelar", "pt")
    assert mentions("Voglio disdire il contratto", "disdire", "it")
    assert mentions("please call me back today", "call me back", "en")  # a phrase: its words in a row
    assert not mentions("call back me", "call me back", "en")
    assert not mentions("a surcharge", "charge", "en")  # whole words only
    assert not mentions("all good", "refund", "en")
    assert check(When(keywords=("refund", "cancel")), comment="I want my money refunded") is True
    assert check(When(keywords=("refund",)), comment=None) is False  # completed without a comment


def test_metadata_fields() -> None:
    meta = {"plan": "Enterprise", "seats": 40, "vip": True, "regions": ["eu", "us"], "customer": {"tier": "gold"}}
    assert check(When(metadata=(("plan", ("enterprise", "vip")),)), metadata=meta) is True
    assert check(When(metadata=(("plan", ("free",)),)), metadata=meta) is False
    assert check(When(metadata=(("seats", ("40",)),)), metadata=meta) is True  # numbers compare as text
    assert check(When(metadata=(("vip", ("true",)),)), metadata=meta) is True
    assert check(When(metadata=(("regions", ("us",)),)), metadata=meta) is True  # any item of a list
    assert check(When(metadata=(("customer.tier", ("gold",)),)), metadata=meta) is True  # a dotted path
    assert check(When(metadata=(("missing", ("x",)),)), metadata=meta) is False
    assert check(When(metadata=(("customer", ("gold",)),)), metadata=meta) is False  # a mapping is no value


def test_no_condition_matches_everything_and_detractor_reach() -> None:
    assert evaluate([Rule("all", When(), Then(tags=("x",)))], Facts(score=10, channel="a", locale="en")).tags == ("x",)
    assert can_match_detractors(When()) and can_match_detractors(When(score=(5, 9)))
    assert not can_match_detractors(When(category=("passive", "promoter")))
    assert not can_match_detractors(When(score=(7, 10), category=("detractor", "promoter")))


def test_explain_says_why_and_what_would_be_done() -> None:
    rules = [
        Rule("vip", When(metadata=(("plan", ("vip",)),)), Then(priority="urgent")),
        Rule("angry", When(score=(0, 3)), Then(alert=(TARGETS[0],), alert_mode="add", claim_within=timedelta(hours=2))),
    ]
    f = Facts(score=2, channel="slack", locale="en", metadata={"plan": "free"}, themes=(), comment="slow")
    out = explain(evaluate(rules, f, DEFAULTS), f)
    assert out["point"] == "completed" and out["matched"] == ["angry"]
    assert out["rules"][0] == {
        "name": "vip",
        "outcome": "no_match",
        "stops": False,
        "conditions": [{"condition": "metadata.plan", "expected": "vip", "actual": "free", "result": False}],
    }
    assert out["actions"]["alert"] == [
        {"channel": "slack", "destination": "C0LEADS"},
        {"channel": "slack", "destination": "C0VIP"},
    ]
    assert out["actions"]["claim_within_seconds"] == 7200
    assert out["actions"]["escalate_to"] == out["actions"]["alert"]  # no escalate_to: where the alert went
    promoter = replace(f, score=10)
    assert explain(evaluate(rules, promoter, DEFAULTS), promoter)["actions"]["alert"] == []
