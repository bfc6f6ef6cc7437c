"""Outbox items → Slack Web API calls; Slack errors → the worker's neutral delivery errors."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import blocks
from core.delivery import DeliveryError, PermanentFailure, RetryLater
from core.ratelimit import Limit, Rate
from core.store.outbox import OutboxItem

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


class SlackSender:
    def __init__(self, client: AsyncWebClient, profile: str) -> None:
        self.client = client
        self.profile = profile

    def rate_limits(self, item: OutboxItem) -> list[Limit]:
        chan = item.target.get("conversation_id", "")
        return [
            (f"slack:chan:{self.profile}:{chan}", Rate(1.0, burst=2)),
            (f"slack:team:{self.profile}", Rate(20.0, 5)),
        ]

    async def send(self, item: OutboxItem) -> str | None:
        try:
            return await self._send(item)
        except SlackApiError as exc:
            raise classify(exc) from exc

    async def _send(self, item: OutboxItem) -> str | None:
        channel = str(item.target["conversation_id"])
        thread = item.target.get("thread")
        p = item.payload
        if item.kind == "ask_score":
            assert item.survey_id is not None
            body = blocks.question(item.survey_id, p["text"], p["low_label"], p["high_label"])
            resp = await self.client.chat_postMessage(channel=channel, thread_ts=thread, text=p["text"], blocks=body)
            return message_ref(resp["channel"], resp["ts"])
        if item.kind == "mark_answered":
            ref = p.get("question_ref")
            if not ref:
                return None
            chan, ts = ref.split(":", 1)
            await self.client.chat_update(channel=chan, ts=ts, text=p["text"], blocks=blocks.answered(p["text"]))
            return ref
        if item.kind == "ask_comment":
            assert item.survey_id is not None
            body = blocks.comment_question(item.survey_id, p["text"], p["add_comment_label"])
            resp = await self.client.chat_postMessage(channel=channel, thread_ts=thread, text=p["text"], blocks=body)
            return message_ref(resp["channel"], resp["ts"])
        if item.kind == "alert_detractor":
            resp = await self.client.chat_postMessage(channel=channel, text=p["text"], blocks=blocks.alert(p))
            return message_ref(resp["channel"], resp["ts"])
        resp = await self.client.chat_postMessage(channel=channel, thread_ts=thread, text=p["text"])
        return message_ref(resp["channel"], resp["ts"])


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
