"""Turns a survey's actions into messages to queue: customer messages go back where the customer is, alerts to
the support team's targets, events to each subscriber."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from core.profiles import AlertTarget, ProfileSettings
from core.routing import DEFAULT_PRIORITY
from core.store.outbox import NewMessage
from core.survey import Survey
from core.types import Action, AlertDetractor, DetractorAlert, Emit, EventNotice

EVENTS_CHANNEL = "events"
PLACEHOLDER = "{conversation_id}"
DEFAULT_PORTS = {"http": 80, "https": 443}


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
        "themes": list(survey.themes),
        "priority": survey.priority or DEFAULT_PRIORITY,
        "tags": list(survey.tags),
    }


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def messages_for(survey: Survey, actions: list[Action], settings: ProfileSettings, now: datetime) -> list[NewMessage]:
    """Customer actions go to the survey's conversation, in one order; an alert to each support-team target; an
    event to each subscription that asked for its type, stamped `now` (when it happened)."""
    a = survey.address
    customer_target = {
        "conversation_id": a.conversation_id,
        "user_id": a.user_id,
        "thread": a.thread,
        "locale": survey.locale,
    }
    if a.workspace is not None:
        customer_target["workspace"] = a.workspace
    customer_key = f"{a.channel}:{a.profile}:{a.conversation_id}"
    out: list[NewMessage] = []
    for action in actions:
        if isinstance(action, AlertDetractor):
            out.extend(_alerts(survey, action, settings))
        elif isinstance(action, Emit):
            out.extend(event_messages(survey, action, settings, now))
        else:
            out.append(NewMessage(a.profile, a.channel, customer_key, customer_target, action, survey.id))
    return out


def event_messages(
    survey: Survey, action: Emit, settings: ProfileSettings, now: datetime, extra: dict[str, Any] | None = None
) -> list[NewMessage]:
    """`extra` joins the survey's snapshot in the event's data (an escalation's deadline and targets)."""
    subscribers = [sub.url for sub in settings.subscriptions if action.event_type in sub.events]
    if not subscribers:
        return []
    notice = EventNotice(action.event_type, survey_snapshot(survey) | (extra or {}), now.isoformat())
    return [
        NewMessage(
            survey.address.profile,
            EVENTS_CHANNEL,
            f"{EVENTS_CHANNEL}:{url}",
            {"conversation_id": url},
            notice,
            survey.id,
        )
        for url in subscribers
    ]


def _alerts(survey: Survey, action: AlertDetractor, settings: ProfileSettings) -> list[NewMessage]:
    return alert_messages(survey, action.score, action.comment, settings, settings.alert_targets)


def alert_messages(
    survey: Survey,
    score: int,
    comment: str | None,
    settings: ProfileSettings,
    targets: Sequence[AlertTarget],
    escalation: tuple[str, str] | None = None,
) -> list[NewMessage]:
    """A detractor alert to each target. `escalation` (kind, how long it had) makes it the second ping of an
    SLA missed: the same alert, with the Claim / Resolve buttons, under a line saying what was not done in time."""
    a = survey.address
    customer = survey.customer_name or a.user_id
    link = _link(settings.link_template, survey) if settings.link_template else None
    m = settings.policy.messages
    locale = settings.policy.locale
    text = m.text(
        "detractor_alert",
        locale,
        score=score,
        customer=customer,
        agent=survey.agent or "—",
        profile=a.profile,
        comment=comment or "—",
    )
    if escalation is not None:
        text = m.text(f"escalation_{escalation[0]}", locale, within=escalation[1]) + "\n" + text
    priority = survey.priority or DEFAULT_PRIORITY
    marks = " ".join([f"[{priority}]"] * (priority != DEFAULT_PRIORITY) + [f"#{t}" for t in survey.tags])
    if marks:
        text += "\n" + marks
    alert = DetractorAlert(
        survey_id=survey.id,
        score=score,
        comment=comment,
        customer=customer,
        agent=survey.agent,
        team=survey.team,
        profile=a.profile,
        channel=a.channel,
        conversation_id=a.conversation_id,
        link=link,
        text=text,
        claim_label=m.text("claim", locale),
        resolve_label=m.text("resolve", locale),
        priority=priority,
        tags=survey.tags,
        escalation=None if escalation is None else escalation[0],
    )
    out = []
    for t in targets:
        target: dict[str, Any] = {"user_id": "", "thread": None, "locale": locale}
        try:
            destination = alert_destination(t.destination, a.conversation_id)
        except RefusedUrl as exc:  # queued all the same, so it shows as a dead letter; the survey goes on
            destination = t.destination
            target["refused"] = f"alert destination refused: {exc}"
        target["conversation_id"] = destination
        key = f"{t.channel}:{a.profile}:alert:{destination}"
        out.append(NewMessage(a.profile, t.channel, key, target, alert, survey.id))
    return out


class RefusedUrl(ValueError):
    """A template filled with a customer-chosen id would leave the template's scheme, host and port."""


def alert_destination(template: str, conversation_id: str) -> str:
    """A destination holding "{conversation_id}" sends the alert into the customer's own conversation (a Chatwoot
    private note) or to a per-conversation URL. The id comes from outside: in a URL template it is encoded as one
    path segment and the result must keep the template's scheme, host and port; any other template must not turn
    into a URL. The channel checks the id's own shape (Chatwoot: a positive integer)."""
    if PLACEHOLDER not in template:
        return template
    if _origin(template.replace(PLACEHOLDER, "")) is None:
        result = template.replace(PLACEHOLDER, conversation_id)
        if "://" in result or result.startswith("//"):
            raise RefusedUrl("a conversation id can't turn it into a URL")
        return result
    return _same_origin(template, template.replace(PLACEHOLDER, path_segment(conversation_id)))


def _link(template: str, survey: Survey) -> str | None:
    """The "open conversation" link: every value is one encoded path segment and the host stays the template's;
    a template that can't be filled (an unknown placeholder) or would change host gives no link."""
    a = survey.address
    values = {"conversation_id": a.conversation_id, "survey_id": survey.id, "profile": a.profile, "channel": a.channel}
    try:
        return _same_origin(template, template.format_map({k: path_segment(v) for k, v in values.items()}))
    except (RefusedUrl, KeyError, IndexError, ValueError, AttributeError):
        return None


def path_segment(value: object) -> str:
    """A value as exactly one URL path segment: every reserved character percent-encoded, and never "." or ".."
    (which URL parsers resolve away, climbing out of the template's path)."""
    text = str(value)
    if text in ("", ".", ".."):
        raise RefusedUrl("the conversation id is not a path segment")
    return quote(text, safe="")


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port that is not a number
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname, port or DEFAULT_PORTS[scheme]


def _same_origin(template: str, result: str) -> str:
    expected = _origin(template)
    if expected is None or "{" in expected[1] or _origin(result) != expected:
        raise RefusedUrl("its scheme, host or port would not be the template's")
    return result
