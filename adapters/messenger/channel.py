"""Messenger: the Page's webhook (`object: page`) at /messenger/{profile}/webhook, the Send API at
`{api_base}/{page_id}/messages` with the Page access token. Messenger reports deliveries (`message_deliveries`) and
reads (`message_reads`), so the question's status moves to delivered and read."""

from __future__ import annotations

from adapters.messenger.config import DEFAULT_API_BASE, NAME, MessengerConfig
from adapters.metagraph.messaging_channel import MessagingChannel
from adapters.spec import ChannelDeps

TEXT_LIMIT = 2000  # characters in a Messenger text message


class MessengerChannel(MessagingChannel):
    name = NAME
    webhook_object = "page"
    text_chars = TEXT_LIMIT

    def __init__(self, deps: ChannelDeps, config: MessengerConfig) -> None:
        api_base = config.api_base or DEFAULT_API_BASE
        super().__init__(deps, config, own_id=config.page_id, send_node=config.page_id, api_base=api_base)
