"""Query parameters of the personal-data endpoints, read with the report filters' date rules."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core import audit
from core.reports.filters import QueryParams, Since, Text, Until

MAX_LIMIT = 500
MAX_CURSOR = 2**62
Action = Literal["claim", "resolve", "escalate", "erase", "export", "token_use", "config_loaded", "config_reloaded"]
assert set(Action.__args__) == set(audit.ACTIONS)  # one list of actions; the literal is for the document
CHANNEL_WIDTH, USER_WIDTH = 32, 128  # surveys.channel, contacts.user_id


class PersonParams(QueryParams):
    """`?profile=` narrows an erasure or export to one profile; without it, every profile the token reaches."""

    profile: Text = Field(None, max_length=64)


class ExportParams(PersonParams):
    """`?unredacted=true` (admin tokens only): the stored text, for an access request that must hand over everything;
    by default texts are shown as the profile shows them."""

    unredacted: bool = False


class AuditParams(QueryParams):
    action: Action | None = None
    profile: Text = Field(None, max_length=64)
    since: Since = None
    until: Until = None
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    cursor: int | None = Field(None, ge=1, le=MAX_CURSOR)
