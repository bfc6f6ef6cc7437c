"""`profiles.<p>.channels.instagram`: one Instagram professional account per profile, reached through either of
Meta's two Instagram messaging APIs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from adapters.metagraph.messaging_channel import ACCOUNT_ID, MessagingConfig

NAME = "instagram"  # the channel's one name: config key, outbox rows, URLs
API_BASES = {
    # Instagram API with Instagram Login: an Instagram User token, sends from the account itself.
    "instagram": "https://graph.instagram.com/v21.0",
    # Messenger API for Instagram (Facebook Login): a Page token, sends from the Page linked to the account.
    "facebook": "https://graph.facebook.com/v21.0",
}


class InstagramConfig(MessagingConfig):
    account_id: str = Field(pattern=ACCOUNT_ID)  # the professional account: webhook entries carry it
    login: Literal["instagram", "facebook"] = "instagram"
    page_id: str | None = Field(None, pattern=ACCOUNT_ID)  # Facebook Login only: the linked Page sends

    @model_validator(mode="after")
    def _page_for_facebook_login(self) -> InstagramConfig:
        if self.login == "facebook" and self.page_id is None:
            raise ValueError("page_id is required with login: facebook (messages are sent from the linked Page)")
        if self.login == "instagram" and self.page_id is not None:
            raise ValueError("page_id is only used with login: facebook; Instagram Login sends from account_id")
        return self

    @property
    def send_node(self) -> str:
        return self.page_id if self.login == "facebook" and self.page_id else self.account_id
