"""`privacy:` in the configuration: the key of the suppression list's keyed hashes."""

from __future__ import annotations

from pydantic import Field, field_validator

from bots.config_problems import Strict

MIN_KEY = 16  # characters: a short key could be guessed, and with it every hash checked against candidate addresses


class PrivacyConfig(Strict):
    """`hash_key` hashes new suppression entries; `previous_hash_keys` are still checked, so a key can be changed
    without forgetting anyone. Unset (or empty, as `${NPSBOT_PRIVACY_KEY:-}` gives when the variable is missing),
    a key generated once and stored in the database is used (see core/suppression.py)."""

    hash_key: str | None = None
    previous_hash_keys: list[str] = Field(default_factory=list)

    @field_validator("hash_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("hash_key")
    @classmethod
    def _long_enough(cls, v: str | None) -> str | None:
        if v is not None and len(v) < MIN_KEY:
            raise ValueError(f"must be at least {MIN_KEY} characters (e.g. `openssl rand -hex 32`)")
        return v

    @field_validator("previous_hash_keys")
    @classmethod
    def _no_empty(cls, v: list[str]) -> list[str]:
        return [k for k in v if k]

    def keys(self) -> list[bytes]:
        """The configured keys, the one new entries are hashed with first."""
        return [k.encode() for k in (self.hash_key, *self.previous_hash_keys) if k]

    def warnings(self) -> list[str]:
        """What check-config says about these keys: not wrong, but worth knowing."""
        if self.hash_key is not None:
            return []
        return [
            "privacy.hash_key is not set: the suppression list's hashes use a key generated once and kept in the "
            "database, so a copy of the database can be checked against guessed addresses; set it (e.g. "
            "NPSBOT_PRIVACY_KEY) in production"
        ]
