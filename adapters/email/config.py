"""The operator's SMTP server, which digests by email go out through: `smtp:` at the top of the file or in a
profile (the profile's wins). An email address is the destination."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

NAME = "email"  # the channel's one name: digest targets, outbox rows
ADDRESS = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")


class EmailConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1)
    port: int | None = Field(None, ge=1, le=65535)  # default: 465 with security tls, 587 with starttls, 25 with none
    username: str | None = None
    password: str | None = None  # write ${SMTP_PASSWORD}: the file holds no secret
    security: Literal["starttls", "tls", "none"] = "starttls"
    from_address: str = Field(pattern=ADDRESS.pattern)
    timeout: float = Field(30.0, gt=0, le=600)  # seconds for the connection and each SMTP command
    rate_per_second: float = Field(2.0, gt=0)

    @property
    def effective_port(self) -> int:
        return self.port or {"tls": 465, "starttls": 587, "none": 25}[self.security]


def destination_problem(config: EmailConfig, destination: str) -> str | None:
    return None if ADDRESS.fullmatch(destination) else "expected an email address, e.g. leads@example.com"
