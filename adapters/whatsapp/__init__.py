"""WhatsApp channel (WhatsApp Business Cloud API): surveys in the customer's WhatsApp chat with the business."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.spec import ChannelDeps, ChannelSpec
from adapters.whatsapp.config import NAME, WhatsAppConfig

if TYPE_CHECKING:
    from adapters.whatsapp.channel import WhatsAppChannel


def build(deps: ChannelDeps, config: WhatsAppConfig) -> WhatsAppChannel:
    from adapters.whatsapp.channel import WhatsAppChannel

    return WhatsAppChannel(deps, config)


# Customers only: no detractor alert may be configured to go here.
SPEC = ChannelSpec(name=NAME, config=WhatsAppConfig, build=build, alerts=False)

__all__ = ["SPEC", "WhatsAppConfig"]
