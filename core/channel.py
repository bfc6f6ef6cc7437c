"""Outbound half of the channel seam: the envelope a channel is handed (`Delivery`), the typed sends it implements
(`OutboundChannel`), the one table from an action's type to its outbox tag and its method, and the outbox's
encoding of an action.

A channel implements `say` and overrides what its platform does better. One without buttons gets the question as
text showing the scale's two labelled ends (the question's own wording already invites typing a number), as Rasa's
OutputChannel falls back to text; core reads the typed answer either way."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from core.delivery import PermanentFailure
from core.ratelimit import Limit
from core.types import (
    AskComment,
    AskScore,
    DetractorAlert,
    Digest,
    EventNotice,
    MarkAnswered,
    OutboundAction,
    Say,
)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox row as a channel sees it: where it goes and which attempt this is, without the action.
    `question_ref` is the platform's id of the survey's question, given with a `MarkAnswered` so it can be edited."""

    id: int
    profile: str
    channel: str
    survey_id: int | None
    conversation_id: str
    user_id: str
    thread: str | None
    locale: str | None
    attempts: int
    question_ref: str | None = None
    workspace: str | None = None  # the survey's Address.workspace: whose credentials the send uses


def score_labels(action: AskScore) -> tuple[str, ...]:
    """The 0–10 scale as every channel shows it, ends labelled in the customer's language:
    "0 · Not likely", "1" … "9", "10 · Very likely". Core's reply parser reads each of them back as its number."""
    return (f"0 · {action.low_label}", *map(str, range(1, 10)), f"10 · {action.high_label}")


def score_as_text(action: AskScore) -> Say:
    """The question for a channel without buttons: its text, then the scale's labelled ends."""
    labels = score_labels(action)
    return Say(f"{action.text}\n{labels[0]} … {labels[-1]}", purpose="ask_score")


def alert_as_text(action: DetractorAlert) -> Say:
    """A detractor alert for a channel without buttons: the alert's text and the conversation's link."""
    return Say(action.text + (f"\n{action.link}" if action.link else ""), purpose="detractor_alert")


class OutboundChannel:
    """Typed sends. Each returns the platform's id of what it sent (or None) and reports failure with
    core.delivery's errors; only `say` is required. `send_bound`: seconds within which the channel's own client
    ends every send (one request under a total timeout), for the worker to skip a timeout of its own."""

    send_bound: float | None = None

    def rate_limits(self, delivery: Delivery) -> list[Limit]:
        """The buckets a send to this delivery books a slot under (see core.ratelimit); none by default."""
        return []

    async def say(self, delivery: Delivery, action: Say) -> str | None:
        raise NotImplementedError(f"{type(self).__name__} does not implement say")

    async def ask_score(self, delivery: Delivery, action: AskScore) -> str | None:
        return await self.say(delivery, score_as_text(action))

    async def ask_comment(self, delivery: Delivery, action: AskComment) -> str | None:
        return await self.say(delivery, Say(action.text, purpose="ask_comment"))

    async def mark_answered(self, delivery: Delivery, action: MarkAnswered) -> str | None:
        """Nothing to edit where the question had no buttons."""
        return None

    async def alert(self, delivery: Delivery, action: DetractorAlert) -> str | None:
        return await self.say(delivery, alert_as_text(action))

    async def notify(self, delivery: Delivery, action: EventNotice) -> str | None:
        """Event notices go to subscribers' URLs (adapters.webhook.events); a chat channel never gets one."""
        raise PermanentFailure(f"{type(self).__name__} does not deliver event notices")

    async def send_digest(self, delivery: Delivery, action: Digest) -> str | None:
        """A channel that can't attach the chart sends the digest's text."""
        return await self.say(delivery, Say(action.text, purpose="digest"))


class SendsThrough(OutboundChannel):
    """A channel whose sends live in a sender of its own (the object holding the platform client): every typed
    send and its rate limits are the sender's."""

    sender: OutboundChannel

    def rate_limits(self, delivery: Delivery) -> list[Limit]:
        return self.sender.rate_limits(delivery)

    async def say(self, delivery: Delivery, action: Say) -> str | None:
        return await self.sender.say(delivery, action)

    async def ask_score(self, delivery: Delivery, action: AskScore) -> str | None:
        return await self.sender.ask_score(delivery, action)

    async def ask_comment(self, delivery: Delivery, action: AskComment) -> str | None:
        return await self.sender.ask_comment(delivery, action)

    async def mark_answered(self, delivery: Delivery, action: MarkAnswered) -> str | None:
        return await self.sender.mark_answered(delivery, action)

    async def alert(self, delivery: Delivery, action: DetractorAlert) -> str | None:
        return await self.sender.alert(delivery, action)

    async def send_digest(self, delivery: Delivery, action: Digest) -> str | None:
        return await self.sender.send_digest(delivery, action)


@dataclass(frozen=True, slots=True)
class _Kind:
    tag: str  # stable: it is stored in outbox.kind and names metrics and dead letters
    method: str  # the OutboundChannel method that sends it
    fields: tuple[str, ...]  # stored in outbox.payload


def _kind(action_type: type, tag: str, method: str) -> tuple[type, _Kind]:
    return action_type, _Kind(tag, method, tuple(f.name for f in fields(action_type)))


KINDS: dict[type, _Kind] = dict(
    [
        _kind(AskScore, "ask_score", "ask_score"),
        _kind(AskComment, "ask_comment", "ask_comment"),
        _kind(Say, "say", "say"),
        _kind(MarkAnswered, "mark_answered", "mark_answered"),
        _kind(DetractorAlert, "detractor_alert", "alert"),
        _kind(EventNotice, "event_notice", "notify"),
        _kind(Digest, "digest", "send_digest"),
    ]
)
BY_TAG: dict[str, type] = {kind.tag: action_type for action_type, kind in KINDS.items()}


def tag(action_type: type) -> str:
    """The outbox tag of an action type, for queries that select rows by what they hold."""
    return KINDS[action_type].tag


async def send(channel: OutboundChannel, delivery: Delivery, action: OutboundAction) -> str | None:
    """Hand an action to the channel method for its type: the only place that chooses a send by what is sent."""
    method = getattr(channel, KINDS[type(action)].method)
    return await method(delivery, action)


class UnknownAction(ValueError):
    """An outbox row whose kind or payload is not an action this version knows."""


def encode(action: OutboundAction) -> tuple[str, dict[str, Any]]:
    """An action as its outbox row stores it: (kind, payload)."""
    kind = KINDS[type(action)]
    return kind.tag, {name: getattr(action, name) for name in kind.fields}


def decode(kind: str, payload: dict[str, Any]) -> OutboundAction:
    """The action an outbox row holds; raises UnknownAction for a kind or payload that is not one."""
    action_type = BY_TAG.get(kind)
    if action_type is None:
        raise UnknownAction(f"outbox kind {kind!r} is not a known action")
    try:
        return action_type(**payload)  # type: ignore[no-any-return]
    except TypeError as exc:
        raise UnknownAction(f"outbox payload is not a {kind}: {exc}") from exc
