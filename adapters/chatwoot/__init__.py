"""Chatwoot channel: a conversation resolved in Chatwoot gets a survey in the same conversation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.chatwoot.config import NAME, ChatwootConfig
from adapters.spec import ChannelDeps, ChannelSpec

if TYPE_CHECKING:
    from adapters.chatwoot.channel import ChatwootChannel


def build(deps: ChannelDeps, config: ChatwootConfig) -> ChatwootChannel:
    from adapters.chatwoot.channel import ChatwootChannel

    return ChatwootChannel(deps, config)


SPEC = ChannelSpec(name=NAME, config=ChatwootConfig, build=build)

__all__ = ["SPEC", "ChatwootConfig"]
