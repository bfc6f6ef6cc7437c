"""`profiles.<p>.channels.slack`: one Slack app per profile."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

NAME = "slack"  # the channel's one name: config key, outbox rows, URLs


class SlackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bot_token: str = Field(min_length=5)
    signing_secret: str = Field(min_length=5)
    api_base: str | None = None  # a test fake of the Web API
    close_reaction: str = "white_check_mark"
    agents: list[str] = Field(default_factory=list)
