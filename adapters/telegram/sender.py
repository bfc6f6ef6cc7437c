"""Core's outbound actions → Bot API calls, and Bot API errors → the worker's neutral delivery errors."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
)
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup

from adapters.telegram.keyboards import alert_keyboard, answered_keyboard, score_keyboard
from core.channel import Delivery, OutboundChannel, alert_as_text, score_labels
from core.delivery import PermanentFailure, RetryLater
from core.ratelimit import Limit, Rate
from core.types import AskScore, DetractorAlert, Digest, MarkAnswered, Say

CAPTION_LIMIT = 1024  # a photo's caption, in characters (Bot API sendPhoto)
HARMLESS = ("message is not modified", "message to edit not found", "message can't be edited")
UNREACHABLE = ("chat not found", "user not found", "bot was blocked", "bot was kicked", "user is deactivated")


@contextmanager
def bot_api_errors() -> Iterator[None]:
    """Bot API errors as the worker's delivery errors; an edit that finds nothing to change is no failure (the
    block ends and the send returns None)."""
    try:
        yield
    except TelegramRetryAfter as exc:
        raise RetryLater(exc.message, retry_after=float(exc.retry_after)) from exc
    except TelegramForbiddenError as exc:
        raise PermanentFailure(f"403 {exc.message}", unreachable=True) from exc
    except TelegramMigrateToChat as exc:  # the old id will never work again; name the new one for operators
        raise PermanentFailure(f"400 group moved to supergroup {exc.migrate_to_chat_id}") from exc
    except (TelegramBadRequest, TelegramNotFound) as exc:
        text = exc.message.lower()
        if not any(h in text for h in HARMLESS):
            raise PermanentFailure(f"400 {exc.message}", unreachable=any(u in text for u in UNREACHABLE)) from exc
    except TelegramNetworkError as exc:
        # aiogram wraps every client error, our refused redirect included: that one is final, the rest retry.
        if isinstance(exc.__cause__, PermanentFailure):
            raise PermanentFailure(str(exc.__cause__)) from exc
        raise


class TelegramSender(OutboundChannel):
    def __init__(self, bot: Bot, bot_id: int, per_chat: Rate, per_bot: Rate, per_group: Rate) -> None:
        self.bot = bot
        self.bot_id = bot_id
        self.per_chat, self.per_bot, self.per_group = per_chat, per_bot, per_group

    def rate_limits(self, delivery: Delivery) -> list[Limit]:
        chat = delivery.conversation_id
        limits = [(f"telegram:bot:{self.bot_id}", self.per_bot), (f"telegram:chat:{chat}", self.per_chat)]
        if chat.startswith("-"):
            limits.append((f"telegram:group:{chat}", self.per_group))
        return limits

    async def _message(self, delivery: Delivery, text: str, markup: InlineKeyboardMarkup | None = None) -> str | None:
        with bot_api_errors():
            message = await self.bot.send_message(int(delivery.conversation_id), text, reply_markup=markup)
            return str(message.message_id)
        return None

    async def say(self, delivery: Delivery, action: Say) -> str | None:
        return await self._message(delivery, action.text)

    async def ask_score(self, delivery: Delivery, action: AskScore) -> str | None:
        assert delivery.survey_id is not None
        return await self._message(delivery, action.text, score_keyboard(delivery.survey_id, score_labels(action)))

    async def mark_answered(self, delivery: Delivery, action: MarkAnswered) -> str | None:
        ref = delivery.question_ref
        if not ref or delivery.survey_id is None:
            return None
        markup = answered_keyboard(delivery.survey_id, action.score, action.text)
        with bot_api_errors():
            await self.bot.edit_message_reply_markup(
                chat_id=int(delivery.conversation_id), message_id=int(ref), reply_markup=markup
            )
            return ref
        return None

    async def alert(self, delivery: Delivery, action: DetractorAlert) -> str | None:
        if action.survey_id is None:
            return await super().alert(delivery, action)
        markup = alert_keyboard(action.survey_id, action.claim_label, action.resolve_label, None)
        return await self._message(delivery, alert_as_text(action).text, markup)

    async def send_digest(self, delivery: Delivery, action: Digest) -> str | None:
        """The chart as a photo captioned with the digest; a text past the caption limit goes first as a message
        of its own, then the photo."""
        if not action.image_png:
            return await self._message(delivery, action.text)
        chat = int(delivery.conversation_id)
        photo = BufferedInputFile(base64.b64decode(action.image_png), filename=action.image_name)
        fits = len(action.text) <= CAPTION_LIMIT
        with bot_api_errors():
            if not fits:
                await self.bot.send_message(chat, action.text)
            message = await self.bot.send_photo(chat, photo, caption=action.text if fits else None)
            return str(message.message_id)
        return None
