"""Core's outbound actions → Slack Web API calls; Slack errors → the worker's neutral delivery errors."""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import blocks
from core.channel import Delivery, OutboundChannel, score_labels
from core.delivery import DeliveryError, PermanentFailure, RetryLater
from core.ratelimit import Limit, Rate
from core.types import AskComment, AskScore, DetractorAlert, MarkAnswered, Say

UNREACHABLE = {
    "channel_not_found", "is_archived", "not_in_channel", "account_inactive", "user_not_found", "cannot_dm_bot",
    "user_disabled", "restricted_action", "team_access_not_granted",
}  # fmt: skip
# Slack's codes for a temporary failure on its side; any other `ok: false` would be refused again.
TRANSIENT = {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "team_added_to_org"}


def message_ref(channel: str, ts: str) -> str:
    """How a sent message is recorded (the outbox's ref): edits find the question by it, and a thread reply names
    the message it hangs under by it."""
    return f"{channel}:{ts}"


class SlackSender(OutboundChannel):
    def __init__(self, client: AsyncWebClient, profile: str) -> None:
        self.client = client
        self.profile = profile

    def rate_limits(self, delivery: Delivery) -> list[Limit]:
        chan = delivery.conversation_id
        return [
            (f"slack:chan:{self.profile}:{chan}", Rate(1.0, burst=2)),
            (f"slack:team:{self.profile}", Rate(20.0, 5)),
        ]

    async def _post(
        self, delivery: Delivery, text: str, body: list[dict[str, Any]] | None = None, *, thread: bool = True
    ) -> str:
        try:
            resp = await self.client.chat_postMessage(
                channel=delivery.conversation_id, thread_ts=delivery.thread if thread else None, text=text, blocks=body
            )
        except SlackApiError as exc:
            raise classify(exc) from exc
        return message_ref(resp["channel"], resp["ts"])

    async def say(self, delivery: Delivery, action: Say) -> str | None:
        return await self._post(delivery, action.text)

    async def ask_score(self, delivery: Delivery, action: AskScore) -> str | None:
        assert delivery.survey_id is not None
        return await self._post(
            delivery, action.text, blocks.question(delivery.survey_id, action.text, score_labels(action))
        )

    async def ask_comment(self, delivery: Delivery, action: AskComment) -> str | None:
        assert delivery.survey_id is not None
        body = blocks.comment_question(delivery.survey_id, action.text, action.add_comment_label)
        return await self._post(delivery, action.text, body)

    async def mark_answered(self, delivery: Delivery, action: MarkAnswered) -> str | None:
        ref = delivery.question_ref
        if not ref:
            return None
        chan, ts = ref.split(":", 1)
        try:
            await self.client.chat_update(channel=chan, ts=ts, text=action.text, blocks=blocks.answered(action.text))
        except SlackApiError as exc:
            raise classify(exc) from exc
        return ref

    async def alert(self, delivery: Delivery, action: DetractorAlert) -> str | None:
        return await self._post(delivery, action.text, blocks.alert(action), thread=False)


def classify(exc: SlackApiError) -> DeliveryError:
    """429 waits for Retry-After; 5xx and Slack's transient codes are retried by the worker with backoff;
    a gone channel or user marks the customer unreachable; anything else is permanent (bad token, scope, blocks)."""
    status = exc.response.status_code
    error = str(exc.response.get("error") or "") if isinstance(exc.response.data, dict) else ""
    if status == 429 or error == "ratelimited":
        retry = exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after")
        return RetryLater(f"Slack rate limit ({error or status})", float(retry) if retry else None)
    if status >= 500 or error in TRANSIENT:
        return DeliveryError(f"Slack: {error or status}")
    if error in UNREACHABLE:
        return PermanentFailure(f"Slack: {error}", unreachable=True)
    return PermanentFailure(f"Slack: {error or status}")
