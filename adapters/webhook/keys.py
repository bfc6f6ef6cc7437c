"""Delivery keys for the inbound_keys table, whatever the sender put in its ids."""

from __future__ import annotations

import hashlib
import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def dedup_key(prefix: str, raw: str, limit: int = 255) -> str:
    """A delivery key that fits the inbound_keys column: long ids are hashed rather than cut, so two different
    long ids never collapse into one, and so are ids a database cannot store (undecodable header bytes)."""
    key = f"{prefix}:{raw}"
    if len(key) <= limit and not _SURROGATE.search(raw):
        return key
    return f"{prefix}:sha256:{hashlib.sha256(raw.encode('utf-8', 'surrogatepass')).hexdigest()}"
