"""Token keys: the Fernet keys that seal the platform tokens npsbot keeps in its database (Slack workspaces
installed through "Add to Slack"), read from the environment variable NPSBOT_TOKEN_KEYS, comma-separated. The
first key seals, every key opens: to rotate, put a new key first, run `npsbot tokens reencrypt`, then drop the
old one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.installations import reseal_all
from core.secrets import SecretBox, SecretsError, key_problem
from core.store import Store

ENV = "NPSBOT_TOKEN_KEYS"


def read_keys(env: Mapping[str, str]) -> tuple[tuple[str, ...], list[str]]:
    """The configured keys, and a problem line for each that is not a Fernet key (never the key itself)."""
    keys = tuple(k.strip() for k in env.get(ENV, "").split(",") if k.strip())
    problems = [f"{ENV}: key {i} of {len(keys)} is {why}" for i, k in enumerate(keys, 1) if (why := key_problem(k))]
    return keys, problems


def secret_box(keys: Sequence[str]) -> SecretBox | None:
    return SecretBox(keys) if keys else None


@dataclass(frozen=True)
class Reencrypted:
    changed: int  # sealed with an older key, now with the first
    seen: int  # installations holding tokens
    unreadable: int  # sealed with a key no longer listed: left as they were

    def __str__(self) -> str:
        text = f"{self.changed} of {self.seen} stored installation(s) re-encrypted with the first key"
        if self.unreadable:
            text += f"; {self.unreadable} open with none of the keys in {ENV} and were left as they were"
        return text


async def reencrypt(database_url: str, keys: Sequence[str]) -> Reencrypted:
    """Re-seal every stored token with the first key (`npsbot tokens reencrypt`); safe to run while npsbot runs
    and to run again."""
    box = SecretBox(keys)
    unreadable = 0

    def change(sealed: str) -> str | None:
        nonlocal unreadable
        if box.sealed_with_first(sealed):
            return None
        try:
            return box.rotate(sealed)
        except SecretsError:
            unreadable += 1
            return None

    store = Store(database_url)
    try:
        changed, seen = await reseal_all(store, change)
    finally:
        await store.dispose()
    return Reencrypted(changed, seen, unreadable)


def environment_keys() -> tuple[tuple[str, ...], list[str]]:
    """`read_keys` of this process's environment (the CLI's)."""
    import os

    return read_keys(os.environ)
