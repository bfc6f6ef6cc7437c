"""Slack events, actions, commands, shortcuts and views → core events. These run after Slack has its answer."""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cachetools import TTLCache
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import blocks, payloads
from adapters.slack.config import NAME, split_destination
from adapters.slack.installations import UNINSTALLED
from adapters.slack.sender import message_ref
from adapters.slack.workspaces import Workspaces
from core import followup
from core.profiles import ProfileSettings
from core.service import Outcome, SurveyService
from core.survey import State, Survey
from core.types import Address, ConversationClosed, ScoreGiven, TextReceived

log = logging.getLogger(__name__)
CHANNEL = NAME
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
TOASTS = {"not_yours": "not_your_survey", "closed": "survey_closed", "no_survey": "survey_closed"}
USER_CACHE = 10_000  # people remembered per profile
USER_TTL = 24 * 3600  # seconds: a changed locale or name is picked up within a day
# A listener gets the payload as its `read` parsed it, and bolt's `respond` (None where there is no response_url).
Listener = Callable[[Any, Any], Awaitable[None]]
Wrap = Callable[[Callable[[dict[str, Any]], Any]], Callable[[Listener], Any]]


@dataclass(frozen=True)
class Turn:
    """The request a listener runs for: bolt's client for it (carrying its workspace's token) and that workspace."""

    client: AsyncWebClient
    workspace: str | None


_TURN: ContextVar[Turn | None] = ContextVar("slack_turn", default=None)


@dataclass
class Context:
    service: SurveyService
    profile: str
    settings: ProfileSettings
    base: AsyncWebClient  # outside a request (no workspace's token): only the base URL and the session
    close_reaction: str
    agents: frozenset[str]
    clock: Callable[[], datetime] | None = None
    workspaces: Workspaces | None = None
    users: TTLCache[tuple[str | None, str], dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        timer = time.monotonic if self.clock is None else (lambda: self.clock().timestamp())  # type: ignore[misc]
        self.users = TTLCache(maxsize=USER_CACHE, ttl=USER_TTL, timer=timer)

    @contextmanager
    def serving(self, client: AsyncWebClient, workspace: str | None) -> Iterator[None]:
        """Listeners run inside this: Web API calls go out with the request's workspace's token."""
        token = _TURN.set(Turn(client, workspace))
        try:
            yield
        finally:
            _TURN.reset(token)

    @property
    def client(self) -> AsyncWebClient:
        turn = _TURN.get()
        return self.base if turn is None else turn.client

    @property
    def workspace(self) -> str | None:
        """The workspace (team id, or org id for an org-wide install) the request being handled concerns."""
        turn = _TURN.get()
        return None if turn is None else turn.workspace

    def address(self, channel: str, user: str, thread: str | None) -> Address:
        return Address(CHANNEL, self.profile, channel, user, thread, self.workspace)

    def text(self, key: str, locale: str | None, **values: object) -> str:
        return self.settings.policy.messages.text(key, locale, **values)

    def may_close(self, agent: str, customer: str) -> bool:
        return agent in self.agents if self.agents else agent != customer

    async def user(self, user: str) -> dict[str, Any]:
        """users.info (with the locale); {} when Slack can't say. Only answers are cached, for a day and for the
        10,000 most recent people, so a failed lookup is tried again next time."""
        known = self.users.get((self.workspace, user))
        if known is not None:
            return known
        try:
            info = await self.client.users_info(user=user, include_locale=True)
        except Exception as exc:  # a locale or a name is a nicety: fall back to the default and the id
            log.info("slack %s: users.info failed (%s)", self.profile, type(exc).__name__)  # not who it was for
            return {}
        self.users[(self.workspace, user)] = answer = dict(info.get("user") or {})
        return answer

    async def locale(self, user: str) -> str | None:
        """The user's Slack locale; None sends the profile default."""
        return (await self.user(user)).get("locale")

    @staticmethod
    def name(info: dict[str, Any]) -> str | None:
        """The person's full name, so reports and alerts read "Elena Ruiz", not "U0ELENA01"."""
        profile = info.get("profile") or {}
        return info.get("real_name") or profile.get("real_name") or profile.get("display_name") or None

    async def is_thread_parent(self, channel: str, ts: str) -> bool:
        """Reaction events don't say whether the message is a reply; the thread it sits in does."""
        try:
            found = await self.client.conversations_replies(channel=channel, ts=ts, limit=1)
        except SlackApiError as exc:  # can't tell (e.g. a missing *:history scope): trust the reaction
            log.warning("slack conversations.replies failed (%s)", type(exc).__name__)  # a DM's id names a person
            return True
        messages = found.get("messages") or []
        return not messages or messages[0].get("ts") == ts

    async def survey(self, survey_id: int) -> Survey | None:
        """The survey of this profile on Slack with that id; None for any other (an id from a button is client
        input, and another profile's survey is not this app's to touch), nor one of another workspace."""
        found = await self.service.survey(survey_id, self.profile, CHANNEL)
        if found is None or None in (found.address.workspace, self.workspace):
            return found
        return found if found.address.workspace == self.workspace else None

    def alerted_here(self, channel: str) -> bool:
        """Whether this profile's Slack alerts go to `channel` of the request's workspace (a destination naming no
        workspace is the configured bot_token's)."""
        for destination in self.settings.alert_destinations(CHANNEL):
            workspace, alerted = split_destination(destination)
            if alerted == channel and workspace in (None, self.workspace):
                return True
        return False

    def now(self) -> datetime:
        return self.clock() if self.clock else datetime.now(UTC)

    async def note(self, channel: str, user: str, text: str, thread: str | None) -> None:
        """An ephemeral message: only `user` sees it, where they acted."""
        await self.client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread)

    async def close(self, channel: str, customer: str, thread: str | None, agent: str, case: str, key: str) -> None:
        who, by = await self.user(customer), await self.user(agent)
        event = ConversationClosed(
            self.address(channel, customer, thread),
            agent=self.name(by) or agent,
            locale=who.get("locale"),
            customer_name=self.name(who),
            case_id=case,
            metadata={"slack_channel": channel, "thread_ts": thread},
            timezone=who.get("tz"),  # the customer's Slack time zone: the contact's until the operator sets one
        )
        await self.service.handle(event, dedup_key=key)


def register(app: AsyncApp, ctx: Context, wrap: Wrap) -> None:
    """`wrap(read)` hands each listener its payload as `read` parses it, and lets the channel route a request to its
    listener without running it (to validate and answer before the work)."""

    @app.event("message")
    @wrap(payloads.CustomerMessage.read)
    async def on_message(msg: payloads.CustomerMessage, respond: Any) -> None:
        # A reply in a thread may answer a survey asked outside any thread: the thread is then the one Slack opened
        # under our question or comment question, and its ts is that message's (the ref the sender recorded).
        thread = msg.thread_ts
        reply_to = message_ref(msg.channel, thread) if thread else None
        event = TextReceived(ctx.address(msg.channel, msg.user, thread), msg.text or "", reply_to=reply_to)
        await ctx.service.handle(event, dedup_key=f"slack:{msg.event_id}")

    @app.event("reaction_added")
    @wrap(functools.partial(payloads.Reaction.read, close_reaction=ctx.close_reaction))
    async def on_reaction(r: payloads.Reaction, respond: Any) -> None:
        if not ctx.may_close(r.agent, r.customer) or not await ctx.is_thread_parent(r.channel, r.ts):
            return
        await ctx.close(r.channel, r.customer, r.ts, r.agent, f"{r.channel}:{r.ts}", f"slack:{r.event_id}")

    @app.command("/nps-close")
    @wrap(payloads.CloseCommand.read)
    async def on_command(cmd: payloads.CloseCommand, respond: Any) -> None:
        found = MENTION.search(cmd.text)
        if found is None:
            await respond("Usage: /nps-close @customer")
            return
        customer = found.group(1)
        if not ctx.may_close(cmd.agent, customer):
            await respond("Only support agents can close conversations.")
            return
        trigger = cmd.trigger_id
        await ctx.close(cmd.channel, customer, None, cmd.agent, f"{cmd.channel}:cmd:{trigger}", f"slack:cmd:{trigger}")
        await respond(f"Survey sent to <@{customer}>.")

    @app.shortcut("nps_close")
    @wrap(payloads.CloseShortcut.read)
    async def on_shortcut(s: payloads.CloseShortcut, respond: Any) -> None:
        if not s.customer or s.bot_id:
            await respond("Use the shortcut on a message the customer wrote.")
            return
        if not ctx.may_close(s.agent, s.customer):
            await respond("Only support agents can close conversations.")
            return
        thread = s.thread_ts or s.ts
        key = f"slack:shortcut:{s.trigger_id}"
        await ctx.close(s.channel, s.customer, thread, s.agent, f"{s.channel}:{thread}", key)

    @app.action(re.compile(r"^nps_score_\d+$"))
    @wrap(payloads.ScoreTap.read)
    async def on_score(tap: payloads.ScoreTap, respond: Any) -> None:
        # The service applies the score only to this profile's Slack survey, and only for its customer.
        address = ctx.address(tap.channel, tap.user, tap.thread_ts)
        event = ScoreGiven(address, tap.score, survey_id=tap.survey_id, actor_id=tap.user)
        out = await ctx.service.handle(event, dedup_key=f"slack:action:{tap.action_ts}:{tap.user}")
        note = _note(ctx, out, await ctx.locale(tap.user))
        if note:
            await ctx.note(tap.channel, tap.user, note, tap.thread_ts)

    @app.action(blocks.COMMENT_ACTION)
    @wrap(payloads.CommentButton.read)
    async def on_comment_button(tap: payloads.CommentButton, respond: Any) -> None:
        loc = await ctx.locale(tap.user)
        survey = await ctx.survey(tap.survey_id)
        refusal = (
            "survey_closed" if survey is None
            else "not_your_survey" if survey.address.user_id != tap.user
            else "survey_closed" if survey.state is not State.SCORED
            else None
        )  # fmt: skip
        if refusal is not None:
            await ctx.note(tap.channel, tap.user, ctx.text(refusal, loc), tap.thread_ts)
            return
        texts = (ctx.text("comment_title", loc), ctx.text("comment_label", loc), ctx.text("submit", loc))
        view = blocks.comment_modal(tap.survey_id, str(tap.survey_id), *texts)
        await ctx.client.views_open(trigger_id=tap.trigger_id, view=view)

    @app.view(blocks.COMMENT_VIEW)
    @wrap(payloads.CommentSubmission.read)
    async def on_comment(sub: payloads.CommentSubmission, respond: Any) -> None:
        # The metadata names the survey; the comment goes to it only if it is this profile's, the submitter's and
        # waiting for a comment, and is addressed as the survey itself is (never by what the payload says).
        survey = await ctx.survey(sub.survey_id)
        if survey is None or survey.address.user_id != sub.user or survey.state is not State.SCORED:
            log.info(
                "slack %s: a comment for survey %s, not open to its submitter, was dropped", ctx.profile, sub.survey_id
            )
            return
        event = TextReceived(survey.address, sub.text or "")
        await ctx.service.handle(event, dedup_key=f"slack:view:{sub.view_id}:{sub.view_hash}")

    @app.action(re.compile(r"^nps_(claim|resolve)$"))
    @wrap(payloads.FollowUpTap.read)
    async def on_follow_up(tap: payloads.FollowUpTap, respond: Any) -> None:
        # Only the team that got the alert (anyone in a channel the profile's alerts go to) or a listed agent, and
        # only on a detractor of this profile: the button's value is client input.
        if not ctx.alerted_here(tap.channel) and tap.user not in ctx.agents:
            await ctx.note(tap.channel, tap.user, ctx.text("not_allowed", await ctx.locale(tap.user)), tap.thread_ts)
            return
        act = followup.claim if tap.action_id == blocks.CLAIM_ACTION else followup.resolve
        try:
            state = await act(ctx.service.store, tap.survey_id, tap.name or tap.user, ctx.now(), profile=ctx.profile)
        except followup.NotADetractor:
            await ctx.note(tap.channel, tap.user, ctx.text("survey_closed", await ctx.locale(tap.user)), tap.thread_ts)
            return
        loc = ctx.settings.policy.locale
        status = (
            ctx.text("resolved_by", loc, user=state.resolved_by)
            if state.resolved_by
            else ctx.text("claimed_by", loc, user=state.claimed_by)
        )
        kept = [b for b in tap.blocks if b.get("type") != "actions" and b.get("block_id") != "nps_status"]
        kept.append({"type": "context", "block_id": "nps_status", "elements": [{"type": "mrkdwn", "text": status}]})
        if not state.resolved_by:
            kept.extend(b for b in tap.blocks if b.get("type") == "actions")
        await ctx.client.chat_update(channel=tap.channel, ts=tap.message_ts, text=status, blocks=kept)

    @app.event("app_uninstalled")
    @wrap(payloads.Uninstalled.read)
    async def on_uninstalled(e: payloads.Uninstalled, respond: Any) -> None:
        if ctx.workspaces is not None:
            await ctx.workspaces.uninstalled(ctx.workspace, UNINSTALLED)

    @app.event("tokens_revoked")
    @wrap(payloads.TokensRevoked.read)
    async def on_tokens_revoked(e: payloads.TokensRevoked, respond: Any) -> None:
        """A revoked bot token leaves the app nothing to post with there: that removes the installation. A user
        token revoked alone (the installer's) is only dropped."""
        if ctx.workspaces is None:
            return
        if e.bot:
            await ctx.workspaces.uninstalled(ctx.workspace, f"{UNINSTALLED}: bot token revoked")
            return
        for user in e.oauth:
            await ctx.workspaces.user_token_revoked(ctx.workspace, user)


def _note(ctx: Context, out: Outcome, locale: str | None) -> str | None:
    loc = out.survey.locale if out.survey else locale
    if out.status == "already_answered" and out.survey is not None:
        return ctx.text("already_answered", loc, score=out.survey.score)
    if out.status in TOASTS:
        return ctx.text(TOASTS[out.status], loc)
    return None
