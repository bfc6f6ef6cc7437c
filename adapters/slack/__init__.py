"""Slack channel (slack-bolt): surveys in the thread or DM where the customer was helped."""

from adapters.slack.channel import SlackChannel

__all__ = ["SlackChannel"]
