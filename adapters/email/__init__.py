"""Email (outbound only): digests over the operator's SMTP server. Customers are never surveyed by email here and
no detractor alert goes to it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.email.config import NAME, EmailConfig, destination_problem
from adapters.spec import ChannelDeps, ChannelSpec

if TYPE_CHECKING:
    from adapters.email.channel import EmailChannel


def build(deps: ChannelDeps, config: EmailConfig) -> EmailChannel:
    from adapters.email.channel import EmailChannel  # aiosmtplib is loaded only where a profile sends email

    return EmailChannel(deps.profile, config)


SPEC = ChannelSpec(name=NAME, config=EmailConfig, build=build, alerts=False, destination_problem=destination_problem)

__all__ = ["SPEC", "EmailConfig"]
