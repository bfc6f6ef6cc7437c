"""Instagram Direct channel: surveys in an Instagram professional account's conversations, the 0–10 scale as quick
replies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.instagram.config import NAME, InstagramConfig
from adapters.spec import ChannelDeps, ChannelSpec

if TYPE_CHECKING:
    from adapters.instagram.channel import InstagramChannel


def build(deps: ChannelDeps, config: InstagramConfig) -> InstagramChannel:
    from adapters.instagram.channel import InstagramChannel

    return InstagramChannel(deps, config)


SPEC = ChannelSpec(name=NAME, config=InstagramConfig, build=build, alerts=False)

__all__ = ["SPEC", "InstagramConfig"]
