"""Core's outbound actions → Slack Web API calls; Slack errors → the worker's neutral delivery errors. Each send
goes out with the token of the workspace it is for (the survey's, or the one an alert destination names); a token
Slack calls expired is refreshed and the call made once more."""

from __future__ import annotations

import base64
from typing import Any

from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import blocks
from adapters.slack.config import split_destination
from adapters.slack.workspaces import NotInstalled, RefreshFailed, Served, Workspaces
from core.channel import Delivery, OutboundChannel, score_labels
from core.delivery import DeliveryError, PermanentFailure, RetryLater
from core.ratelimit import Limit, Rate
from core.types import AskComment, AskScore, DetractorAlert, Digest, MarkAnswered, Say

UNREACHABLE = {
    "channel_not_found", "is_archived", "not_in_channel", "account_inactive", "user_not_found", "cannot_dm_bot",
    "user_disabled", "restricted_action", "team_access_not_granted",
}  # fmt: skip
# Slack's codes for a temporary failure on its side; any other `ok: false` would be refused again.
# A token that no longer works at all: the workspace may have removed the app (not the customer's doing).
REVOKED = {"token_revoked", "invalid_auth", "account_inactive", "not_authed"}
TRANSIENT = {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "team_added_to_org"}


def message_ref(channel: str, ts: str) -> str:
    """How a sent message is recorded (the outbox's ref): edits find the question by it, and a thread reply names
    the message it hangs under by it."""
    return f"{channel}:{ts}"


def where(delivery: Delivery) -> tuple[str | None, str]:
    """(workspace, channel) of a send: an alert destination may name its workspace (`T0123/C0456`)."""
    workspace, channel = split_destination(delivery.conversation_id)
    return delivery.workspace or workspace, channel


class SlackSender(OutboundChannel):
    def __init__(self, client: AsyncWebClient, profile: str, workspaces: Workspaces | None = None) -> None:
        self.client = client  # shared; each call names its workspace's token (without `workspaces`: the client's)
        self.profile = profile
        self.workspaces = workspaces

    def rate_limits(self, delivery: Delivery) -> list[Limit]:
        workspace, chan = where(delivery)
        team = f":{workspace}" if workspace else ""
        return [
            (f"slack:chan:{self.profile}{team}:{chan}", Rate(1.0, burst=2)),
            (f"slack:team:{self.profile}{team}", Rate(20.0, 5)),
        ]

    async def _serving(self, workspace: str | None) -> Served | None:
        if self.workspaces is None:
            return None
        try:
            return await self.workspaces.for_send(workspace)
        except NotInstalled as exc:
            raise PermanentFailure(str(exc)) from None
        except RefreshFailed as exc:
            raise PermanentFailure(f"Slack: {exc}") from None

    async def _call(self, workspace: str | None, method: str, **params: Any) -> Any:
        """One Web API call with the workspace's token; `token_expired`: refreshed, then once more."""
        served = await self._serving(workspace)
        call = getattr(self.client, method)
        try:
            return await call(token=served.token if served else self.client.token, **params)
        except SlackApiError as exc:
            error = _error(exc)
            # Another process may have removed the workspace since this one read its installation.
            installed = served.record if served is not None else None
            if error in REVOKED and installed is not None and await self._gone(installed.workspace):
                raise PermanentFailure("workspace uninstalled") from None
            if error != "token_expired" or served is None or not served.refreshable:
                raise classify(exc) from exc
        assert self.workspaces is not None
        try:
            served = await self.workspaces.refresh(served)
        except (NotInstalled, RefreshFailed) as exc:
            raise PermanentFailure(f"Slack: {exc}") from None
        try:
            return await call(token=served.token, **params)
        except SlackApiError as exc:
            raise classify(exc) from exc

    async def _gone(self, workspace: str) -> bool:
        return self.workspaces is not None and await self.workspaces.gone(workspace)

    async def _post(
        self, delivery: Delivery, text: str, body: list[dict[str, Any]] | None = None, *, thread: bool = True
    ) -> str:
        workspace, channel = where(delivery)
        resp = await self._call(
            workspace,
            "chat_postMessage",
            channel=channel,
            thread_ts=delivery.thread if thread else None,
            text=text,
            blocks=body,
        )
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
        body = blocks.answered(action.text)
        await self._call(delivery.workspace, "chat_update", channel=chan, ts=ts, text=action.text, blocks=body)
        return ref

    async def alert(self, delivery: Delivery, action: DetractorAlert) -> str | None:
        return await self._post(delivery, action.text, blocks.alert(action), thread=False)

    async def send_digest(self, delivery: Delivery, action: Digest) -> str | None:
        """The chart uploaded to the channel (files_upload_v2: files.getUploadURLExternal, the upload, then
        files.completeUploadExternal) with the digest's text as its comment; without a chart, the text."""
        if not action.image_png:
            return await self._post(delivery, action.text, thread=False)
        workspace, channel = where(delivery)
        try:
            resp = await self._call(
                workspace,
                "files_upload_v2",
                channel=channel,
                file=base64.b64decode(action.image_png),
                filename=action.image_name,
                title=action.subject,
                alt_txt=action.subject,
                initial_comment=action.text,
            )
        except SlackRequestError as exc:  # the upload URL answered other than 200: Slack's side, try again later
            raise DeliveryError(f"Slack: file upload failed ({type(exc).__name__})") from None
        return str(resp["file"]["id"]) if resp.get("file") else None


def classify(exc: SlackApiError) -> DeliveryError:
    """429 waits for Retry-After; 5xx and Slack's transient codes are retried by the worker with backoff;
    a gone channel or user marks the customer unreachable; anything else is permanent (bad token, scope, blocks)."""
    status = exc.response.status_code
    error = _error(exc)
    if status == 429 or error == "ratelimited":
        retry = exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after")
        return RetryLater(f"Slack rate limit ({error or status})", float(retry) if retry else None)
    if status >= 500 or error in TRANSIENT:
        return DeliveryError(f"Slack: {error or status}")
    if error in UNREACHABLE:
        return PermanentFailure(f"Slack: {error}", unreachable=True)
    return PermanentFailure(f"Slack: {error or status}")


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or "") if isinstance(exc.response.data, dict) else ""
