"""The lifecycle as a pure function: every transition, with no database and no clock."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from core.messages import MessageCatalog
from core.survey import ContactStatus, Policy, SkipReason, State, opts_out, start, step
from core.types import (
    Address,
    AlertDetractor,
    AskComment,
    AskScore,
    ConversationClosed,
    ConversationReopened,
    Emit,
    MarkAnswered,
    OptOut,
    Say,
    ScoreGiven,
    TextReceived,
    Tick,
)

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
ADDR = Address("memory", "acme", "c1", "u1")
POLICY = Policy(brand="Acme", expiry=timedelta(hours=24), comment_window=timedelta(hours=1))


def closed(locale: str | None = None) -> ConversationClosed:
    return ConversationClosed(ADDR, agent="ana", team="billing", locale=locale)


def asked(policy: Policy = POLICY, locale: str | None = None):
    survey, actions = start(closed(locale), ContactStatus(), policy, T0)
    assert survey.state is State.ASKED
    return survey, actions


def kinds(actions) -> list[type]:
    return [type(a) for a in actions]


def test_close_with_no_delay_asks_at_once_in_profile_locale() -> None:
    survey, actions = asked()
    assert kinds(actions) == [AskScore]
    assert "Acme" in actions[0].text and "10" in actions[0].text
    assert survey.asked_at == T0 and survey.agent == "ana" and survey.locale == "en"


def test_customer_locale_overrides_profile_default() -> None:
    _, actions = asked(locale="es-ES")
    es = MessageCatalog().text("question", "es", brand="Acme")
    assert actions[0].text == es


def test_send_delay_waits_for_a_tick_at_due_time() -> None:
    policy = replace(POLICY, send_delay=timedelta(minutes=10))
    survey, actions = start(closed(), ContactStatus(), policy, T0)
    assert survey.state is State.PENDING and actions == []
    assert survey.next_deadline(policy) == T0 + timedelta(minutes=10)
    same, none = step(survey, Tick(), policy, T0 + timedelta(minutes=9))
    assert same is survey and none == []
    later, acts = step(survey, Tick(), policy, T0 + timedelta(minutes=10))
    assert later.state is State.ASKED and kinds(acts) == [AskScore]


def test_reopen_withdraws_a_pending_or_asked_survey() -> None:
    survey, _ = asked()
    new, actions = step(survey, ConversationReopened(ADDR), POLICY, T0)
    assert new.state is State.SKIPPED and new.skip_reason is SkipReason.REOPENED and actions == []


@pytest.mark.parametrize(
    ("contact", "reason"),
    [
        (ContactStatus(opted_out=True), SkipReason.OPTED_OUT),
        (ContactStatus(unreachable=True), SkipReason.UNREACHABLE),
        (ContactStatus(last_surveyed_at=T0 - timedelta(days=3)), SkipReason.THROTTLED),
        (ContactStatus(has_open_survey_for_case=True), SkipReason.DUPLICATE),
    ],
)
def test_close_is_skipped_for(contact: ContactStatus, reason: SkipReason) -> None:
    survey, actions = start(closed(), contact, POLICY, T0)
    assert survey.state is State.SKIPPED and survey.skip_reason is reason and actions == []


def test_throttle_window_elapsed_surveys_again() -> None:
    survey, _ = start(closed(), ContactStatus(last_surveyed_at=T0 - timedelta(days=31)), POLICY, T0)
    assert survey.state is State.ASKED


def test_button_score_then_comment_completes_with_thanks() -> None:
    survey, _ = asked()
    scored, actions = step(survey, ScoreGiven(ADDR, 10), POLICY, T0 + timedelta(minutes=1))
    assert scored.state is State.SCORED and scored.score == 10 and scored.category == "promoter"
    assert kinds(actions) == [MarkAnswered, AskComment, Emit]
    assert actions[1].category == "promoter" and actions[2].event_type == "survey.responded"
    done, actions = step(scored, TextReceived(ADDR, "Fast and kind"), POLICY, T0 + timedelta(minutes=2))
    assert done.state is State.COMPLETED and done.comment == "Fast and kind"
    assert kinds(actions) == [Say, Emit] and actions[0].purpose == "thanks"


def test_detractor_completion_alerts_the_team() -> None:
    survey, _ = asked()
    scored, _ = step(survey, TextReceived(ADDR, "3"), POLICY, T0)
    assert scored.score == 3
    _, actions = step(scored, TextReceived(ADDR, "Nobody answered for two days"), POLICY, T0)
    alert = [a for a in actions if isinstance(a, AlertDetractor)]
    assert alert == [AlertDetractor(score=3, comment="Nobody answered for two days")]
    assert [a.event_type for a in actions if isinstance(a, Emit)] == ["survey.completed", "detractor.created"]


def test_comment_window_lapsing_completes_without_comment_and_still_alerts() -> None:
    survey, _ = asked()
    scored, _ = step(survey, ScoreGiven(ADDR, 2), POLICY, T0)
    waiting, none = step(scored, Tick(), POLICY, T0 + timedelta(minutes=59))
    assert waiting.state is State.SCORED and none == []
    done, actions = step(scored, Tick(), POLICY, T0 + timedelta(hours=1))
    assert done.state is State.COMPLETED and done.comment is None
    assert AlertDetractor(score=2, comment=None) in actions
    assert not any(isinstance(a, Say) for a in actions)


def test_unclear_reply_is_reasked_once_then_kept_as_text() -> None:
    survey, _ = asked()
    once, actions = step(survey, TextReceived(ADDR, "7 or 8"), POLICY, T0)
    assert once.state is State.ASKED and once.reasks == 1
    assert kinds(actions) == [Say] and actions[0].purpose == "reask"
    twice, actions = step(once, TextReceived(ADDR, "hard to say"), POLICY, T0)
    assert twice.state is State.ASKED and actions == []
    assert twice.unparsed == ("7 or 8", "hard to say")
    scored, actions = step(twice, TextReceived(ADDR, "ocho"), POLICY, T0)
    assert scored.score == 8 and scored.category == "passive"


def test_free_text_score_in_other_languages() -> None:
    for text, score in [("nueve", 9), ("9/10", 9), ("otto", 8), ("dix", 10), ("🔟", 10)]:
        survey, _ = asked()
        scored, _ = step(survey, TextReceived(ADDR, text), POLICY, T0)
        assert scored.score == score, text


def test_opt_out_word_ends_the_survey_with_confirmation() -> None:
    survey, _ = asked(locale="es")
    new, actions = step(survey, TextReceived(ADDR, "Baja"), POLICY, T0)
    assert new.state is State.OPTED_OUT
    assert kinds(actions) == [Say] and actions[0].purpose == "optout_confirm"


def test_platform_opt_out_sends_nothing() -> None:
    survey, _ = asked()
    new, actions = step(survey, OptOut(ADDR), POLICY, T0)
    assert new.state is State.OPTED_OUT and actions == []


def test_unanswered_question_expires() -> None:
    survey, _ = asked()
    new, actions = step(survey, Tick(), POLICY, T0 + timedelta(hours=24))
    assert new.state is State.EXPIRED and actions == []


def test_second_tap_cannot_change_the_score() -> None:
    survey, _ = asked()
    scored, _ = step(survey, ScoreGiven(ADDR, 9), POLICY, T0)
    again, actions = step(scored, ScoreGiven(ADDR, 0), POLICY, T0)
    assert again.score == 9 and actions == []


@pytest.mark.parametrize("state", [State.COMPLETED, State.EXPIRED, State.SKIPPED, State.OPTED_OUT])
def test_terminal_states_ignore_everything(state: State) -> None:
    survey, _ = asked()
    ended = replace(survey, state=state)
    for event in (ScoreGiven(ADDR, 5), TextReceived(ADDR, "5"), Tick(), OptOut(ADDR), ConversationReopened(ADDR)):
        assert step(ended, event, POLICY, T0 + timedelta(days=9)) == (ended, [])


def test_promoter_gets_review_invitation_when_configured() -> None:
    policy = replace(POLICY, review_url="https://reviews.example/acme")
    survey, _ = asked(policy)
    scored, _ = step(survey, ScoreGiven(ADDR, 10), policy, T0)
    _, actions = step(scored, TextReceived(ADDR, "Great"), policy, T0)
    invites = [a for a in actions if isinstance(a, Say) and a.purpose == "review_invite"]
    assert len(invites) == 1 and "https://reviews.example/acme" in invites[0].text


def test_operator_override_text_is_used() -> None:
    policy = replace(POLICY, messages=MessageCatalog({"en": {"thanks": "Cheers from Acme!"}}))
    survey, _ = asked(policy)
    scored, _ = step(survey, ScoreGiven(ADDR, 8), policy, T0)
    _, actions = step(scored, TextReceived(ADDR, "ok"), policy, T0)
    assert Say("Cheers from Acme!", "thanks") in actions


def test_opt_out_word_after_the_score_keeps_the_score_and_still_alerts() -> None:
    survey, _ = asked()
    scored, _ = step(survey, ScoreGiven(ADDR, 3), POLICY, T0)
    done, actions = step(scored, TextReceived(ADDR, "STOP!"), POLICY, T0 + timedelta(minutes=1))
    assert done.state is State.COMPLETED and done.score == 3 and done.comment is None
    assert isinstance(actions[0], Say) and actions[0].purpose == "optout_confirm"
    assert not any(isinstance(a, Say) and a.purpose == "thanks" for a in actions)
    assert AlertDetractor(score=3, comment=None) in actions
    assert opts_out(actions)


def test_platform_opt_out_after_the_score_completes_without_messages() -> None:
    survey, _ = asked()
    scored, _ = step(survey, ScoreGiven(ADDR, 9), POLICY, T0)
    done, actions = step(scored, OptOut(ADDR), POLICY, T0)
    assert done.state is State.COMPLETED and done.score == 9
    assert kinds(actions) == [Emit] and not opts_out(actions)  # the service records the platform opt-out itself


@pytest.mark.parametrize(
    "comment", ["please stop calling me at night", "Para mí, lo mejor fue la rapidez", "stop by the shop: 10/10"]
)
def test_a_comment_that_mentions_an_opt_out_word_is_a_comment(comment: str) -> None:
    survey, _ = asked()
    scored, _ = step(survey, ScoreGiven(ADDR, 8), POLICY, T0)
    done, actions = step(scored, TextReceived(ADDR, comment), POLICY, T0)
    assert done.state is State.COMPLETED and done.comment == comment and done.score == 8
    assert Say(POLICY.messages.text("thanks", "en"), "thanks") in actions and not opts_out(actions)


def test_a_number_after_the_score_is_a_comment_not_a_new_score() -> None:
    survey, _ = asked()
    scored, _ = step(survey, TextReceived(ADDR, "9"), POLICY, T0)
    done, _ = step(scored, TextReceived(ADDR, "10"), POLICY, T0)
    assert done.score == 9 and done.comment == "10"


def test_nothing_can_be_answered_before_the_question_is_sent() -> None:
    policy = replace(POLICY, send_delay=timedelta(minutes=10))
    pending, _ = start(closed(), ContactStatus(), policy, T0)
    for event in (TextReceived(ADDR, "9"), TextReceived(ADDR, "hmm"), ScoreGiven(ADDR, 9)):
        assert step(pending, event, policy, T0) == (pending, [])


def test_opt_out_in_reply_to_a_reask_ends_the_survey() -> None:
    survey, _ = asked(locale="ca")
    once, _ = step(survey, TextReceived(ADDR, "potser"), POLICY, T0)
    out, actions = step(once, TextReceived(ADDR, "Prou!"), POLICY, T0)
    assert out.state is State.OPTED_OUT and out.unparsed == ("potser",)
    assert actions == [Say(MessageCatalog().text("optout_confirm", "ca", brand="Acme"), "optout_confirm")]


@pytest.mark.parametrize("limit", [0, 2])
def test_reask_limit_comes_from_the_policy(limit: int) -> None:
    policy = replace(POLICY, reask_limit=limit)
    survey, _ = asked(policy)
    reasks = 0
    for text in ("no idea", "hmm", "7 or 8", "dunno"):
        survey, actions = step(survey, TextReceived(ADDR, text), policy, T0)
        reasks += sum(1 for a in actions if isinstance(a, Say) and a.purpose == "reask")
    assert reasks == limit == survey.reasks and survey.state is State.ASKED
    assert survey.unparsed == ("no idea", "hmm", "7 or 8", "dunno")


def test_unparsed_text_survives_expiry() -> None:
    survey, _ = asked()
    survey, _ = step(survey, TextReceived(ADDR, "7 or 8"), POLICY, T0)
    survey, _ = step(survey, TextReceived(ADDR, "really can't say"), POLICY, T0)
    expired, _ = step(survey, Tick(), POLICY, T0 + timedelta(hours=24))
    assert expired.state is State.EXPIRED and expired.score is None
    assert expired.unparsed == ("7 or 8", "really can't say")


def test_reopen_after_the_score_changes_nothing() -> None:
    survey, _ = asked()
    scored, _ = step(survey, ScoreGiven(ADDR, 6), POLICY, T0)
    assert step(scored, ConversationReopened(ADDR), POLICY, T0) == (scored, [])


def test_reopen_withdraws_a_pending_survey_before_it_is_sent() -> None:
    policy = replace(POLICY, send_delay=timedelta(minutes=10))
    pending, _ = start(closed(), ContactStatus(), policy, T0)
    withdrawn, actions = step(pending, ConversationReopened(ADDR), policy, T0 + timedelta(minutes=1))
    assert withdrawn.state is State.SKIPPED and withdrawn.skip_reason is SkipReason.REOPENED and actions == []
    assert step(withdrawn, Tick(), policy, T0 + timedelta(minutes=10)) == (withdrawn, [])


def test_operator_override_applies_to_its_locale_only() -> None:
    catalog = MessageCatalog({"es": {"question": "¿Nos recomendarías, {brand}? 0-10", "reask": "¿Un número?"}})
    policy = replace(POLICY, messages=catalog)
    _, es_actions = asked(policy, locale="es")
    _, en_actions = asked(policy, locale="en")
    assert es_actions[0].text == "¿Nos recomendarías, Acme? 0-10"
    assert en_actions[0].text == MessageCatalog().text("question", "en", brand="Acme")
    survey, _ = asked(policy, locale="es-MX")
    _, actions = step(survey, TextReceived(ADDR, "no sé"), policy, T0)
    assert actions == [Say("¿Un número?", "reask")]


@pytest.mark.parametrize(
    ("score", "category", "key"),
    [
        (0, "detractor", "comment_question_detractor"),
        (7, "passive", "comment_question_passive"),
        (10, "promoter", "comment_question_promoter"),
    ],
)
def test_comment_question_is_worded_per_category_in_the_customer_language(score: int, category: str, key: str) -> None:
    survey, _ = asked(locale="it")
    _, actions = step(survey, ScoreGiven(ADDR, score), POLICY, T0)
    ask = next(a for a in actions if isinstance(a, AskComment))
    assert ask.category == category and ask.text == MessageCatalog().text(key, "it", score=score)
