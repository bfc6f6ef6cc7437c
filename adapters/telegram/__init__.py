"""Telegram channel (aiogram 3): surveys in the chat where the customer was helped."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.spec import ChannelDeps, ChannelSpec
from adapters.telegram.config import NAME, TelegramConfig

if TYPE_CHECKING:
    from adapters.telegram.channel import TelegramChannel


def build(deps: ChannelDeps, config: TelegramConfig) -> TelegramChannel:
    from adapters.telegram.channel import TelegramChannel  # aiogram is loaded only where a profile uses Telegram

    return TelegramChannel(deps, config)


SPEC = ChannelSpec(name=NAME, config=TelegramConfig, build=build)

__all__ = ["SPEC", "TelegramConfig"]
