"""Telegram channel (aiogram 3): surveys in the chat where the customer was helped."""

from adapters.telegram.channel import TelegramChannel

__all__ = ["TelegramChannel"]
