"""`profiles.<p>.channels.webhook`: signed events in, signed messages out to a bridge."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

NAME = "webhook"  # the channel's one name: config key, outbox rows, URLs


class WebhookConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secrets: list[str] = Field(min_length=1)
    deliver_url: str | None = Field(None, pattern=r"^https?://")
    delivery_secret: str | None = None
    rate_per_second: float = Field(10.0, gt=0)

    @field_validator("secrets")
    @classmethod
    def _whsec(cls, v: list[str]) -> list[str]:
        for s in v:
            if not s.startswith("whsec_"):
                raise ValueError("each secret must start with whsec_ (Standard Webhooks)")
        return v
