"""What the webhook and campaign tests share: the sandbox bridge a webhook channel delivers to, and a profile with a
webhook channel and one weekly relational campaign."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bots.sandbox.bridge import FakeBridge

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture(name="bridge")
async def sandbox_bridge() -> AsyncIterator[FakeBridge]:
    b = await FakeBridge().start()
    yield b
    await b.close()


def quarterly_config(database_url: str, deliver_url: str | None = None, **campaign: Any) -> dict[str, Any]:
    """Profile `acme`, a webhook channel, and the campaign `quarterly` (Mondays 09:00 in Madrid, to `plan: pro`);
    `campaign` adds or overrides its keys."""
    webhook: dict[str, Any] = {"secrets": [SECRET]}
    if deliver_url is not None:
        webhook["deliver_url"] = deliver_url
    quarterly = {
        "name": "quarterly",
        "schedule": "0 9 * * MON",
        "timezone": "Europe/Madrid",
        "audience": {"attributes": {"plan": "pro"}},
        "channels": ["webhook"],
        **campaign,
    }
    return {
        "database_url": database_url,
        "profiles": {"acme": {"brand": "Acme", "channels": {"webhook": webhook}, "campaigns": [quarterly]}},
    }
