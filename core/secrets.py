"""Platform tokens at rest. A set of tokens is sealed as one Fernet token (AES-128-CBC with an HMAC-SHA256, from
cryptography) under the operator's keys: the first key seals, every key opens, so a new key goes first while the
old ones stay listed until `rotate` has re-sealed everything with the new one. The keys come from the environment,
read by bots/; core never sees where."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretsError(ValueError):
    """A sealed value none of the configured keys opens (a key was dropped too early, or the value was altered)."""


def new_key() -> str:
    """A fresh key: 32 random bytes, URL-safe base64, as Fernet reads it."""
    return Fernet.generate_key().decode()


def key_problem(key: str) -> str | None:
    """Why `key` is not a Fernet key, or None when it is one."""
    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        return "not a Fernet key (32 bytes in URL-safe base64, 44 characters)"
    return None


class SecretBox:
    """Seals and opens a mapping of secret strings under the configured keys."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._first = Fernet(keys[0].encode())
        self._all = MultiFernet([Fernet(k.encode()) for k in keys])

    def seal(self, secrets: Mapping[str, str | None]) -> str:
        """The secrets (None values left out) as one token sealed with the first key."""
        plain = json.dumps({k: v for k, v in secrets.items() if v is not None}, sort_keys=True)
        return self._first.encrypt(plain.encode()).decode()

    def open(self, sealed: str) -> dict[str, str]:
        try:
            plain = self._all.decrypt(sealed.encode())
        except InvalidToken:
            raise SecretsError("none of the configured keys opens the stored secrets") from None
        found = json.loads(plain)
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}

    def rotate(self, sealed: str) -> str:
        """The same secrets sealed with the first key (whichever configured key sealed them)."""
        try:
            return self._all.rotate(sealed.encode()).decode()
        except InvalidToken:
            raise SecretsError("none of the configured keys opens the stored secrets") from None

    def sealed_with_first(self, sealed: str) -> bool:
        """Whether the first key opens it, i.e. `rotate` has nothing to do."""
        try:
            self._first.decrypt(sealed.encode())
        except InvalidToken:
            return False
        return True
