"""`profiles.<p>.channels.chatwoot`: one Chatwoot account per profile."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

NAME = "chatwoot"  # the channel's one name: config key, outbox rows, URLs


class ChatwootConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(pattern=r"^https?://")
    account_id: int = Field(ge=1)
    api_token: str = Field(min_length=5)
    webhook_token: str = Field(min_length=16)  # Chatwoot signs nothing: this token in the URL is the check
    rate_per_second: float = Field(5.0, gt=0)
