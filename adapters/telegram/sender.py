"""Outbox items → Bot API calls, and Bot API errors → the worker's neutral delivery errors."""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNotFound,
    TelegramRetryAfter,
)

from adapters.telegram.keyboards import alert_keyboard, answered_keyboard, score_keyboard
from core.delivery import PermanentFailure, RetryLater
from core.ratelimit import Limit, Rate
from core.store.outbox import OutboxItem

HARMLESS = ("message is not modified", "message to edit not found", "message can't be edited")
UNREACHABLE = ("chat not found", "user not found", "bot was blocked", "bot was kicked", "user is deactivated")


class TelegramSender:
    def __init__(self, bot: Bot, bot_id: int, per_chat: Rate, per_bot: Rate, per_group: Rate) -> None:
        self.bot = bot
        self.bot_id = bot_id
        self.per_chat, self.per_bot, self.per_group = per_chat, per_bot, per_group

    def rate_limits(self, item: OutboxItem) -> list[Limit]:
        chat = item.target.get("conversation_id", "")
        limits = [(f"telegram:bot:{self.bot_id}", self.per_bot), (f"telegram:chat:{chat}", self.per_chat)]
        if str(chat).startswith("-"):
            limits.append((f"telegram:group:{chat}", self.per_group))
        return limits

    async def send(self, item: OutboxItem) -> str | None:
        try:
            return await self._send(item)
        except TelegramRetryAfter as exc:
            raise RetryLater(exc.message, retry_after=float(exc.retry_after)) from exc
        except TelegramForbiddenError as exc:
            raise PermanentFailure(f"403 {exc.message}", unreachable=True) from exc
        except TelegramMigrateToChat as exc:  # the old id will never work again; name the new one for operators
            raise PermanentFailure(f"400 group moved to supergroup {exc.migrate_to_chat_id}") from exc
        except (TelegramBadRequest, TelegramNotFound) as exc:
            text = exc.message.lower()
            if any(h in text for h in HARMLESS):
                return None
            raise PermanentFailure(f"400 {exc.message}", unreachable=any(u in text for u in UNREACHABLE)) from exc

    async def _send(self, item: OutboxItem) -> str | None:
        chat_id = int(item.target["conversation_id"])
        p = item.payload
        if item.kind == "ask_score":
            assert item.survey_id is not None
            markup = score_keyboard(item.survey_id, p["low_label"], p["high_label"])
            message = await self.bot.send_message(chat_id, p["text"], reply_markup=markup)
            return str(message.message_id)
        if item.kind == "mark_answered":
            ref = p.get("question_ref")
            if not ref or item.survey_id is None:
                return None
            markup = answered_keyboard(item.survey_id, int(p["score"]), p["text"])
            await self.bot.edit_message_reply_markup(chat_id=chat_id, message_id=int(ref), reply_markup=markup)
            return ref
        if item.kind == "alert_detractor":
            text = p["text"] + (f"\n{p['link']}" if p.get("link") else "")
            markup = alert_keyboard(int(p["survey_id"]), p["claim_label"], p["resolve_label"], None)
            message = await self.bot.send_message(chat_id, text, reply_markup=markup)
            return str(message.message_id)
        message = await self.bot.send_message(chat_id, p["text"])
        return str(message.message_id)
