"""Slack channel (slack-bolt): surveys in the thread or DM where the customer was helped."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.slack.config import NAME, SlackConfig
from adapters.spec import ChannelDeps, ChannelSpec

if TYPE_CHECKING:
    from adapters.slack.channel import SlackChannel


def build(deps: ChannelDeps, config: SlackConfig) -> SlackChannel:
    from adapters.slack.channel import SlackChannel  # slack-bolt is loaded only where a profile uses Slack

    return SlackChannel(deps, config)


SPEC = ChannelSpec(name=NAME, config=SlackConfig, build=build)

__all__ = ["SPEC", "SlackConfig"]
