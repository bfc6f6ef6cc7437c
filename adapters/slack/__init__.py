"""Slack channel (slack-bolt): surveys in the thread or DM where the customer was helped, in one workspace (a bot
token) or in every workspace that installs the app ("Add to Slack")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.slack.config import NAME, SlackConfig, destination_problem, stores_tokens
from adapters.spec import ChannelDeps, ChannelSpec

if TYPE_CHECKING:
    from adapters.slack.channel import SlackChannel


def build(deps: ChannelDeps, config: SlackConfig) -> SlackChannel:
    from adapters.slack.channel import SlackChannel  # slack-bolt is loaded only where a profile uses Slack

    return SlackChannel(deps, config)


SPEC = ChannelSpec(
    name=NAME, config=SlackConfig, build=build, stores_tokens=stores_tokens, destination_problem=destination_problem
)

__all__ = ["SPEC", "SlackConfig"]
