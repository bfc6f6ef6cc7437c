"""Telegram updates → core events. Every update that changes state carries its (bot, update_id) dedup key."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message, Update, User

from adapters.telegram.config import NAME
from adapters.telegram.keyboards import FollowUpAction, Vote
from core import followup
from core.profiles import ProfileSettings
from core.service import Outcome, SurveyService
from core.types import Address, ConversationClosed, OptOut, ScoreGiven, TextReceived

log = logging.getLogger(__name__)
CHANNEL = NAME
ADMIN_STATUSES = ("creator", "administrator")


@dataclass
class Context:
    """What the handlers need, bound once per profile."""

    service: SurveyService
    profile: str
    settings: ProfileSettings
    bot_id: int
    agents: frozenset[int] = frozenset()
    support_chat_id: int | None = None
    topic_customers: dict[int, int] = field(default_factory=dict)
    clock: Callable[[], datetime] | None = None

    def key(self, update: Update) -> str:
        return f"{CHANNEL}:{self.bot_id}:{update.update_id}"

    def address(self, chat_id: int, user_id: int) -> Address:
        return Address(CHANNEL, self.profile, str(chat_id), str(user_id))

    def text(self, key: str, locale: str | None, **values: object) -> str:
        return self.settings.policy.messages.text(key, locale, **values)

    async def is_agent(self, bot: Bot, chat_id: int, user: User) -> bool:
        if user.id in self.agents:
            return True
        if chat_id > 0:
            return False
        try:
            member = await bot.get_chat_member(chat_id, user.id)
        except TelegramAPIError as exc:  # e.g. the bot was removed from the group: nobody there is an agent
            log.warning("getChatMember in chat %s failed: %s", chat_id, exc)  # no user id: personal data
            return False
        return member.status in ADMIN_STATUSES

    def may_follow_up(self, query: CallbackQuery) -> bool:
        """Claim and Resolve come from a chat this profile's alerts are posted in, or from a listed agent: the
        survey id in the button data is client input, so the chat and the person are what is checked."""
        if query.from_user.id in self.agents:
            return True
        chat = query.message.chat.id if query.message else None  # an inline message has no chat: agents only
        return chat is not None and str(chat) in self.settings.alert_destinations(CHANNEL)


async def has_text(message: Message) -> bool:
    """Filters are coroutines on purpose: aiogram runs a plain (or magic `F`) filter in a thread per update."""
    return bool(message.text)


async def closes_topic(message: Message) -> bool:
    return message.forum_topic_closed is not None


TOASTS = {"already_answered": "already_answered", "not_yours": "not_your_survey", "closed": "survey_closed"}


def register_handlers(router: Router, ctx: Context) -> None:
    """Handlers go on the profile's Dispatcher itself (a Router too): each level of sub-routers costs every
    update another pass of aiogram's propagation."""

    @router.callback_query(Vote.filter())
    async def on_vote(query: CallbackQuery, callback_data: Vote, event_update: Update) -> None:
        """Always answered: Telegram shows a spinner on the button until answerCallbackQuery arrives."""
        chat_id = query.message.chat.id if query.message else query.from_user.id
        event = ScoreGiven(
            ctx.address(chat_id, query.from_user.id),
            callback_data.n,
            survey_id=callback_data.s,
            actor_id=str(query.from_user.id),
        )
        toast = None
        try:
            out = await ctx.service.handle(event, dedup_key=ctx.key(event_update))
            toast = _toast(ctx, out, query.from_user.language_code)
        finally:  # even when storing failed (Telegram redelivers the update, the dedup key was not taken)
            await _answer(query, toast)

    @router.callback_query(FollowUpAction.filter())
    async def on_follow_up(query: CallbackQuery, callback_data: FollowUpAction, bot: Bot) -> None:
        """Only this profile's detractors, and only from its alert chats or its agents; a refusal changes nothing."""
        loc = ctx.settings.policy.locale
        if not ctx.may_follow_up(query):
            await _answer(query, ctx.text("not_allowed", query.from_user.language_code or loc))
            return
        who = query.from_user.full_name or str(query.from_user.id)
        now = ctx.clock() if ctx.clock else datetime.now().astimezone()
        act = followup.claim if callback_data.a == "c" else followup.resolve
        try:
            state = await act(ctx.service.store, callback_data.s, who, now, profile=ctx.profile)
        except followup.NotADetractor:
            await _answer(query, ctx.text("survey_closed", loc))
            return
        status = ctx.text("claimed_by", loc, user=state.claimed_by)
        if state.resolved_by:
            status = ctx.text("resolved_by", loc, user=state.resolved_by)
        await _answer(query, status)
        if isinstance(query.message, Message) and query.message.text:
            base = query.message.text.split("\n\n✔")[0]
            markup = None if state.resolved_by else query.message.reply_markup
            with contextlib.suppress(TelegramBadRequest):  # a second claim leaves the text as it was
                await bot.edit_message_text(
                    text=f"{base}\n\n✔ {status}",
                    chat_id=query.message.chat.id,
                    message_id=query.message.message_id,
                    reply_markup=markup,
                )

    @router.callback_query()
    async def on_unknown_tap(query: CallbackQuery) -> None:
        """A button we can't read (an older keyboard, an inline message): still answered, politely."""
        await _answer(query, ctx.text("survey_closed", query.from_user.language_code or ctx.settings.policy.locale))

    @router.message(Command("close"))
    async def on_close(message: Message, bot: Bot, event_update: Update) -> None:
        if message.from_user is None or not await ctx.is_agent(bot, message.chat.id, message.from_user):
            return
        target = _close_target(ctx, message)
        if target is None:
            await message.reply(ctx.text("close_hint", message.from_user.language_code or ctx.settings.policy.locale))
            return
        chat_id, customer = target
        await _close(ctx, message, chat_id, customer, ctx.key(event_update))

    @router.message(closes_topic)
    async def on_topic_closed(message: Message, event_update: Update) -> None:
        if message.chat.id != ctx.support_chat_id or message.message_thread_id is None:
            return
        customer_chat = ctx.topic_customers.get(message.message_thread_id)
        if customer_chat is None:
            log.info("closed topic %s is not mapped to a customer", message.message_thread_id)
            return
        await _close(ctx, message, customer_chat, None, ctx.key(event_update))

    @router.message(has_text)
    async def on_text(message: Message, event_update: Update) -> None:
        user = message.from_user
        if user is None or user.is_bot or (message.text or "").startswith("/"):
            return
        event = TextReceived(ctx.address(message.chat.id, user.id), message.text or "", locale=user.language_code)
        await ctx.service.handle(event, dedup_key=ctx.key(event_update))

    @router.my_chat_member()
    async def on_member(update: ChatMemberUpdated, event_update: Update) -> None:
        """A customer who blocks the bot in a private chat has opted out of surveys."""
        if update.chat.type == "private" and update.new_chat_member.status in ("kicked", "left"):
            await ctx.service.handle(
                OptOut(ctx.address(update.chat.id, update.from_user.id)), dedup_key=ctx.key(event_update)
            )


async def _answer(query: CallbackQuery, text: str | None) -> None:
    """answerCallbackQuery, never raising: a query answered once already, or too old, must not fail the update."""
    try:
        await query.answer(text)
    except TelegramAPIError as exc:
        log.info("answerCallbackQuery %s failed: %s", query.id, exc)


def _close_target(ctx: Context, message: Message) -> tuple[int, User | None] | None:
    """Who the survey goes to: the customer of a mapped support topic, or the author of the replied-to message."""
    if message.chat.id == ctx.support_chat_id and message.message_thread_id in ctx.topic_customers:
        return ctx.topic_customers[message.message_thread_id], None  # type: ignore[index]
    reply = message.reply_to_message
    if reply is not None and reply.from_user is not None and not reply.from_user.is_bot:
        return message.chat.id, reply.from_user
    return None


async def _close(ctx: Context, message: Message, chat_id: int, customer: User | None, key: str) -> None:
    agent = message.from_user.full_name if message.from_user else None
    user_id = customer.id if customer else chat_id  # a private chat's id is the customer's user id
    event = ConversationClosed(
        ctx.address(chat_id, user_id),
        agent=agent,
        locale=customer.language_code if customer else None,
        customer_name=customer.full_name if customer else None,
        case_id=f"{message.chat.id}:{message.message_id}",
        metadata={"telegram_chat": message.chat.id, "topic": message.message_thread_id},
    )
    await ctx.service.handle(event, dedup_key=key)


def _toast(ctx: Context, out: Outcome, fallback_locale: str | None) -> str | None:
    locale = out.survey.locale if out.survey else fallback_locale
    if out.status == "ok" and out.survey is not None and out.survey.score is not None:
        return ctx.text("your_score", locale, score=out.survey.score)
    if out.status == "already_answered" and out.survey is not None:
        return ctx.text("already_answered", locale, score=out.survey.score)
    if out.status in ("no_survey", "closed"):
        return ctx.text("survey_closed", locale)
    if out.status in TOASTS:
        return ctx.text(TOASTS[out.status], locale)
    return None
