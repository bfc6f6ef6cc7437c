"""Facebook Messenger channel: surveys in a Page's Messenger conversations, the 0–10 scale as quick replies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.messenger.config import NAME, MessengerConfig
from adapters.spec import ChannelDeps, ChannelSpec

if TYPE_CHECKING:
    from adapters.messenger.channel import MessengerChannel


def build(deps: ChannelDeps, config: MessengerConfig) -> MessengerChannel:
    from adapters.messenger.channel import MessengerChannel

    return MessengerChannel(deps, config)


SPEC = ChannelSpec(name=NAME, config=MessengerConfig, build=build, alerts=False)

__all__ = ["SPEC", "MessengerConfig"]
