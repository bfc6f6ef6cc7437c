"""Generic signed-webhook channel (Standard Webhooks) and outbound event subscriptions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.spec import ChannelDeps, ChannelSpec
from adapters.webhook.config import NAME, WebhookConfig

if TYPE_CHECKING:
    from adapters.webhook.channel import WebhookChannel


def build(deps: ChannelDeps, config: WebhookConfig) -> WebhookChannel:
    from adapters.webhook.channel import WebhookChannel

    return WebhookChannel(deps, config)


SPEC = ChannelSpec(name=NAME, config=WebhookConfig, build=build)

__all__ = ["SPEC", "WebhookConfig"]
