"""`profiles.<p>.channels.telegram`: one bot per profile."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME = "telegram"  # the channel's one name: config key, outbox rows, URLs


class TelegramConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=10)
    secret_token: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,256}$")
    mode: Literal["webhook", "polling"] = "webhook"
    api_base: str | None = None  # a self-hosted Bot API server, or a test fake
    agents: list[int] = Field(default_factory=list)
    support_chat_id: int | None = None
    topic_customers: dict[int, int] = Field(default_factory=dict)
    per_chat_per_second: float = Field(1.0, gt=0)
    per_bot_per_second: float = Field(25.0, gt=0)
    per_group_per_minute: float = Field(20.0, gt=0)

    @field_validator("token")
    @classmethod
    def _token_shape(cls, v: str) -> str:
        if not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", v):
            raise ValueError("expected a bot token like 123456:ABC-DEF (from @BotFather)")
        return v

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> TelegramConfig:
        if self.mode == "webhook" and not self.secret_token:
            raise ValueError("secret_token is required in webhook mode (Telegram sends it in every update)")
        return self
