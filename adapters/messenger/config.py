"""`profiles.<p>.channels.messenger`: one Facebook Page per profile."""

from __future__ import annotations

from pydantic import Field

from adapters.metagraph.messaging_channel import ACCOUNT_ID, MessagingConfig

NAME = "messenger"  # the channel's one name: config key, outbox rows, URLs
DEFAULT_API_BASE = "https://graph.facebook.com/v21.0"


class MessengerConfig(MessagingConfig):
    page_id: str = Field(pattern=ACCOUNT_ID)  # the Page: webhook entries carry it, messages are sent from it
