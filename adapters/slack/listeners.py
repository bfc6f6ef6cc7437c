"""Slack events, actions, commands, shortcuts and views → core events. These run after Slack has its answer."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cachetools import TTLCache
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import blocks
from core import followup
from core.profiles import ProfileSettings
from core.service import Outcome, SurveyService
from core.store.surveys import get_survey
from core.survey import Survey
from core.types import Address, ConversationClosed, ScoreGiven, TextReceived

log = logging.getLogger(__name__)
CHANNEL = "slack"
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
TOASTS = {"not_yours": "not_your_survey", "closed": "survey_closed", "no_survey": "survey_closed"}
CUSTOMER_SUBTYPES = {None, "thread_broadcast", "file_share"}  # a person writing; edits, joins, bots are not
USER_CACHE = 10_000  # people remembered per profile
USER_TTL = 24 * 3600  # seconds: a changed locale or name is picked up within a day


@dataclass
class Context:
    service: SurveyService
    profile: str
    settings: ProfileSettings
    client: AsyncWebClient
    close_reaction: str
    agents: frozenset[str]
    clock: Callable[[], datetime] | None = None
    users: TTLCache[str, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        timer = time.monotonic if self.clock is None else (lambda: self.clock().timestamp())  # type: ignore[misc]
        self.users = TTLCache(maxsize=USER_CACHE, ttl=USER_TTL, timer=timer)

    def address(self, channel: str, user: str, thread: str | None) -> Address:
        return Address(CHANNEL, self.profile, channel, user, thread)

    def text(self, key: str, locale: str | None, **values: object) -> str:
        return self.settings.policy.messages.text(key, locale, **values)

    def may_close(self, agent: str, customer: str) -> bool:
        return agent in self.agents if self.agents else agent != customer

    async def user(self, user: str) -> dict[str, Any]:
        """users.info (with the locale); {} when Slack can't say. Only answers are cached, for a day and for the
        10,000 most recent people, so a failed lookup is tried again next time."""
        known = self.users.get(user)
        if known is not None:
            return known
        try:
            info = await self.client.users_info(user=user, include_locale=True)
        except Exception as exc:  # a locale or a name is a nicety: fall back to the default and the id
            log.info("slack users.info %s failed: %s", user, exc)
            return {}
        self.users[user] = answer = dict(info.get("user") or {})
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
            log.warning("slack conversations.replies %s %s failed: %s", channel, ts, exc)
            return True
        messages = found.get("messages") or []
        return not messages or messages[0].get("ts") == ts

    async def survey(self, survey_id: int) -> Survey | None:
        async with self.service.store.read() as conn:
            return await get_survey(conn, survey_id)

    async def close(self, channel: str, customer: str, thread: str | None, agent: str, case: str, key: str) -> None:
        who, by = await self.user(customer), await self.user(agent)
        event = ConversationClosed(
            self.address(channel, customer, thread),
            agent=self.name(by) or agent,
            locale=who.get("locale"),
            customer_name=self.name(who),
            case_id=case,
            metadata={"slack_channel": channel, "thread_ts": thread},
        )
        await self.service.handle(event, dedup_key=key)


def register(app: AsyncApp, ctx: Context, wrap: Callable[[Any], Any]) -> None:
    """`wrap` lets the channel route a request to its listener without running it (to answer before the work)."""

    @app.event("message")
    @wrap
    async def on_message(body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("bot_id") or event.get("subtype") not in CUSTOMER_SUBTYPES or not event.get("user"):
            return
        thread = event.get("thread_ts")
        address = ctx.address(event["channel"], event["user"], thread)
        await ctx.service.handle(TextReceived(address, event.get("text", "")), dedup_key=f"slack:{body['event_id']}")

    @app.event("reaction_added")
    @wrap
    async def on_reaction(body: dict[str, Any], event: dict[str, Any]) -> None:
        item = event.get("item", {})
        customer = event.get("item_user")
        if event.get("reaction") != ctx.close_reaction or item.get("type") != "message" or not customer:
            return
        if not ctx.may_close(event["user"], customer):
            return
        channel, ts = item["channel"], item["ts"]
        if not await ctx.is_thread_parent(channel, ts):
            return
        await ctx.close(channel, customer, ts, event["user"], f"{channel}:{ts}", f"slack:{body['event_id']}")

    @app.command("/nps-close")
    @wrap
    async def on_command(ack: Any, command: dict[str, Any], respond: Any) -> None:
        await ack()
        found = MENTION.search(command.get("text", ""))
        if found is None:
            await respond("Usage: /nps-close @customer")
            return
        customer, agent, channel = found.group(1), command["user_id"], command["channel_id"]
        if not ctx.may_close(agent, customer):
            await respond("Only support agents can close conversations.")
            return
        trigger = command.get("trigger_id", "")
        await ctx.close(channel, customer, None, agent, f"{channel}:cmd:{trigger}", f"slack:cmd:{trigger}")
        await respond(f"Survey sent to <@{customer}>.")

    @app.shortcut("nps_close")
    @wrap
    async def on_shortcut(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        message, channel, agent = body.get("message", {}), body["channel"]["id"], body["user"]["id"]
        customer = message.get("user")
        if not customer or message.get("bot_id"):
            await respond("Use the shortcut on a message the customer wrote.")
            return
        if not ctx.may_close(agent, customer):
            await respond("Only support agents can close conversations.")
            return
        thread = message.get("thread_ts") or message["ts"]
        key = f"slack:shortcut:{body.get('trigger_id', thread)}"
        await ctx.close(channel, customer, thread, agent, f"{channel}:{thread}", key)

    @app.action(re.compile(r"^nps_score_\d+$"))
    @wrap
    async def on_score(ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        survey_id, score = (int(x) for x in action["value"].split(":"))
        user, channel = body["user"]["id"], body["channel"]["id"]
        message = body.get("message", {})
        thread = message.get("thread_ts")
        event = ScoreGiven(ctx.address(channel, user, thread), score, survey_id=survey_id, actor_id=user)
        out = await ctx.service.handle(event, dedup_key=f"slack:action:{action['action_ts']}:{user}")
        note = _note(ctx, out, await ctx.locale(user))
        if note:
            await client.chat_postEphemeral(channel=channel, user=user, text=note, thread_ts=thread)

    @app.action(blocks.COMMENT_ACTION)
    @wrap
    async def on_comment_button(ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user, channel = body["user"]["id"], body["channel"]["id"]
        thread = body.get("message", {}).get("thread_ts") or ""
        loc = await ctx.locale(user)
        survey = await ctx.survey(int(action["value"]))
        if survey is None or survey.address.user_id != user:
            key = "survey_closed" if survey is None else "not_your_survey"
            await client.chat_postEphemeral(
                channel=channel, user=user, text=ctx.text(key, loc), thread_ts=thread or None
            )
            return
        view = blocks.comment_modal(
            int(action["value"]),
            f"{action['value']}|{channel}|{thread}",
            ctx.text("comment_title", loc),
            ctx.text("comment_label", loc),
            ctx.text("submit", loc),
        )
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(blocks.COMMENT_VIEW)
    @wrap
    async def on_comment(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()
        _, channel, thread = view["private_metadata"].split("|", 2)
        text = view["state"]["values"]["comment"]["text"]["value"] or ""
        address = ctx.address(channel, body["user"]["id"], thread or None)
        await ctx.service.handle(TextReceived(address, text), dedup_key=f"slack:view:{view['id']}:{view.get('hash')}")

    @app.action(re.compile(r"^nps_(claim|resolve)$"))
    @wrap
    async def on_follow_up(ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        who = body["user"].get("name") or body["user"]["id"]
        act = followup.claim if action["action_id"] == blocks.CLAIM_ACTION else followup.resolve
        now = ctx.clock() if ctx.clock else datetime.now(UTC)
        state = await act(ctx.service.store, int(action["value"]), who, now)
        loc = ctx.settings.policy.locale
        status = (
            ctx.text("resolved_by", loc, user=state.resolved_by)
            if state.resolved_by
            else ctx.text("claimed_by", loc, user=state.claimed_by)
        )
        message = body.get("message", {})
        kept = [
            b for b in message.get("blocks", []) if b.get("type") != "actions" and b.get("block_id") != "nps_status"
        ]
        kept.append({"type": "context", "block_id": "nps_status", "elements": [{"type": "mrkdwn", "text": status}]})
        if not state.resolved_by:
            kept.extend(b for b in message.get("blocks", []) if b.get("type") == "actions")
        await client.chat_update(channel=body["channel"]["id"], ts=message["ts"], text=status, blocks=kept)


def _note(ctx: Context, out: Outcome, locale: str | None) -> str | None:
    loc = out.survey.locale if out.survey else locale
    if out.status == "already_answered" and out.survey is not None:
        return ctx.text("already_answered", loc, score=out.survey.score)
    if out.status in TOASTS:
        return ctx.text(TOASTS[out.status], loc)
    return None
