"""Turns a survey's actions into outbox rows: customer messages go back where the customer is, alerts to the
support team's targets, events to each subscriber."""

from __future__ import annotations

from typing import Any

from core.profiles import ProfileSettings
from core.store.outbox import NewMessage
from core.survey import Survey
from core.types import Action, AlertDetractor, AskComment, AskScore, Emit, MarkAnswered, Say

EVENTS_CHANNEL = "events"


def survey_snapshot(survey: Survey) -> dict[str, Any]:
    """The public JSON shape of a survey (API responses and outbound events share it)."""
    a = survey.address
    return {
        "id": survey.id,
        "profile": a.profile,
        "channel": a.channel,
        "conversation_id": a.conversation_id,
        "case_id": survey.case_id,
        "user_id": a.user_id,
        "customer_name": survey.customer_name,
        "agent": survey.agent,
        "team": survey.team,
        "locale": survey.locale,
        "state": str(survey.state),
        "skip_reason": None if survey.skip_reason is None else str(survey.skip_reason),
        "score": survey.score,
        "category": survey.category,
        "comment": survey.comment,
        "created_at": _iso(survey.created_at),
        "asked_at": _iso(survey.asked_at),
        "scored_at": _iso(survey.scored_at),
        "completed_at": _iso(survey.completed_at),
        "metadata": survey.metadata,
    }


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def messages_for(survey: Survey, actions: list[Action], settings: ProfileSettings) -> list[NewMessage]:
    a = survey.address
    customer_target = {
        "conversation_id": a.conversation_id,
        "user_id": a.user_id,
        "thread": a.thread,
        "locale": survey.locale,
    }
    customer_key = f"{a.channel}:{a.profile}:{a.conversation_id}"
    out: list[NewMessage] = []

    def to_customer(kind: str, payload: dict[str, Any]) -> None:
        out.append(NewMessage(a.profile, a.channel, kind, customer_key, customer_target, payload, survey.id))

    for action in actions:
        if isinstance(action, AskScore):
            to_customer(
                "ask_score",
                {"text": action.text, "low_label": action.low_label, "high_label": action.high_label},
            )
        elif isinstance(action, MarkAnswered):
            to_customer("mark_answered", {"score": action.score, "text": action.text})
        elif isinstance(action, AskComment):
            to_customer(
                "ask_comment",
                {"text": action.text, "category": action.category, "add_comment_label": action.add_comment_label},
            )
        elif isinstance(action, Say):
            to_customer("say", {"text": action.text, "purpose": action.purpose})
        elif isinstance(action, AlertDetractor):
            out.extend(_alerts(survey, action, settings))
        elif isinstance(action, Emit):
            snapshot = survey_snapshot(survey)
            for sub in settings.subscriptions:
                if action.event_type in sub.events:
                    out.append(
                        NewMessage(
                            a.profile,
                            EVENTS_CHANNEL,
                            "event",
                            f"{EVENTS_CHANNEL}:{sub.url}",
                            {"url": sub.url},
                            {"type": action.event_type, "data": snapshot},
                            survey.id,
                        )
                    )
    return out


def _alerts(survey: Survey, action: AlertDetractor, settings: ProfileSettings) -> list[NewMessage]:
    a = survey.address
    customer = survey.customer_name or a.user_id
    link = None
    if settings.link_template:
        link = settings.link_template.format_map(
            {"conversation_id": a.conversation_id, "survey_id": survey.id, "profile": a.profile, "channel": a.channel}
        )
    m = settings.policy.messages
    text = m.text(
        "detractor_alert",
        settings.policy.locale,
        score=action.score,
        customer=customer,
        agent=survey.agent or "—",
        profile=a.profile,
        comment=action.comment or "—",
    )
    payload = {
        "survey_id": survey.id,
        "score": action.score,
        "comment": action.comment,
        "customer": customer,
        "agent": survey.agent,
        "team": survey.team,
        "profile": a.profile,
        "channel": a.channel,
        "conversation_id": a.conversation_id,
        "link": link,
        "text": text,
        "claim_label": m.text("claim", settings.policy.locale),
        "resolve_label": m.text("resolve", settings.policy.locale),
    }
    out = []
    for t in settings.alert_targets:
        # "{conversation_id}" sends the alert into the customer's own conversation (e.g. a Chatwoot private note)
        destination = t.destination.replace("{conversation_id}", a.conversation_id)
        target = {"conversation_id": destination, "user_id": "", "thread": None, "locale": settings.policy.locale}
        key = f"{t.channel}:{a.profile}:alert:{destination}"
        out.append(NewMessage(a.profile, t.channel, "alert_detractor", key, target, payload, survey.id))
    return out
