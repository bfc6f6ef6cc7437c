"""Instagram Direct: the account's webhook (`object: instagram`) at /instagram/{profile}/webhook, the Send API at
`{api_base}/{node}/messages` — with Instagram Login graph.instagram.com and the account's own id, with Facebook Login
graph.facebook.com and the linked Page's id. Instagram reports reads (`messaging_seen`, naming the message) but no
deliveries, so a question's status goes from sent to read."""

from __future__ import annotations

from adapters.instagram.config import API_BASES, NAME, InstagramConfig
from adapters.metagraph.messaging_channel import MessagingChannel
from adapters.spec import ChannelDeps

TEXT_BYTES = 1000  # Instagram text messages: at most 1000 bytes of UTF-8


class InstagramChannel(MessagingChannel):
    name = NAME
    webhook_object = "instagram"
    text_bytes = TEXT_BYTES

    def __init__(self, deps: ChannelDeps, config: InstagramConfig) -> None:
        api_base = config.api_base or API_BASES[config.login]
        super().__init__(deps, config, own_id=config.account_id, send_node=config.send_node, api_base=api_base)
