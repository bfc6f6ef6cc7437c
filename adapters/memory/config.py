"""`profiles.<p>.channels.memory`: the in-process channel; `memory: {}` turns it on."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

MIN_TOKEN = 16  # a shorter bearer token could be guessed


NAME = "memory"  # the channel's one name: config key, outbox rows, URLs


class MemoryConfig(BaseModel):
    """Its trial endpoint `POST /memory/{profile}` opens anyone's surveys, so it is off unless `http: true`, and
    then only answers requests bearing `token`."""

    model_config = ConfigDict(extra="forbid")

    http: bool = False
    token: str | None = Field(None, min_length=MIN_TOKEN, max_length=512, validate_default=True)

    @field_validator("token")
    @classmethod
    def _endpoint_needs_token(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None and info.data.get("http") is True:
            raise ValueError(f"required with http: true (at least {MIN_TOKEN} characters, sent as a bearer token)")
        return v
