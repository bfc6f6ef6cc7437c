"""The suppression list's keyed hashes. An entry is HMAC-SHA256(key, profile, channel, address): the list says "this
person asked to be erased" to whoever knows the address and the key, and names nobody to anyone else.

Keys: the configured ones (`privacy.hash_key`, then any `previous_hash_keys` still honoured), the first hashing new
entries; without a configured key, one generated once and kept in the database (so the list works out of the box,
but a copy of the database then holds the key with the hashes). A key generated before one was configured keeps
being honoured, so configuring a key later never forgets an entry."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from core.store import privacy as q
from core.survey import Survey

STORED_KEY = "suppression"
SUBJECT = "*"  # the profile in a subject hash: one person across profiles, for the audit log


def digest(key: bytes, profile: str, channel: str, address: str) -> str:
    message = "\x1f".join((profile, channel, address)).encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class SuppressionKeys:
    """The keys, loaded once per process. The stored key is read, or created by whoever needs it first, in the
    caller's transaction; it is honoured even when a key is configured, so entries made by a process that ran
    without the configured key (or before there was one) are still found."""

    def __init__(self, configured: Sequence[bytes] = ()) -> None:
        self.configured = tuple(k for k in configured if k)
        self._stored: bytes | None = None

    async def _stored_key(self, conn: Any, now: datetime) -> bytes:
        if self._stored is None:
            secret = await q.stored_key(conn, STORED_KEY, create=secrets.token_hex(32), now=now)
            assert secret is not None
            self._stored = secret.encode()
        return self._stored

    async def for_lookup(self, conn: Any, now: datetime) -> tuple[bytes, ...]:
        """Every key an entry may have been made with."""
        stored = await self._stored_key(conn, now)
        return (*self.configured, stored) if stored not in self.configured else self.configured

    async def for_new(self, conn: Any, now: datetime) -> bytes:
        """The key new entries are made with: the first configured one, else the stored one."""
        return self.configured[0] if self.configured else await self._stored_key(conn, now)

    async def lookup(self, conn: Any, profile: str, channel: str, address: str, now: datetime) -> list[str]:
        """The hashes this address would be listed under in `profile`, one per key."""
        return [digest(k, profile, channel, address) for k in await self.for_lookup(conn, now)]


def anonymous_marker() -> str:
    """What an erased person's fields become: random, so it links to nobody."""
    return f"anon:{secrets.token_hex(6)}"


def anonymised(survey: Survey, marker: str) -> Survey:
    """A survey stored for a suppressed person keeps what the report counts and none of what names them."""
    address = replace(survey.address, conversation_id=marker, user_id=marker, thread=None)
    return replace(survey, address=address, case_id=marker, customer_name=None, comment=None, unparsed=(), metadata={})
