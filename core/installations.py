"""Installations of one profile's channel into the platform's tenants (Slack workspaces and orgs), as channels use
them: store, find, refresh the sealed tokens of, and remove an installation, and keep the install flow's states.
The SQL is core/store/installations.py; what a removal does to surveys and queued messages is described there."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from core.store import Store
from core.store import installations as q
from core.store.installations import Installation, Removal

__all__ = ["Installation", "Installations", "Removal", "reseal_all"]


class Installations:
    def __init__(self, store: Store, channel: str, profile: str, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.channel = channel
        self.profile = profile
        self.clock = clock

    def new(self, workspace: str, **fields: Any) -> Installation:
        """An installation of this profile's channel, installed now."""
        now = self.clock()
        return Installation(self.channel, self.profile, workspace, now, now, **fields)

    async def save(self, installation: Installation) -> Installation:
        return await q.save(self.store, installation)

    async def find(self, workspaces: Sequence[str]) -> Installation | None:
        """The first of `workspaces` installed here and not removed."""
        return await q.find(self.store, self.channel, self.profile, workspaces)

    async def removed(self, workspace: str) -> bool:
        found = await q.find_any(self.store, self.channel, self.profile, workspace)
        return found is not None and found.removed_at is not None

    async def listed(self) -> list[Installation]:
        return await q.listed(self.store, self.channel, self.profile)

    async def replace_secrets(
        self,
        installation: Installation,
        secrets: str,
        expires_at: datetime | None,
        details: dict[str, Any] | None = None,
    ) -> Installation | None:
        """Save over exactly the version read; None when another process saved first."""
        return await q.replace_secrets(self.store, installation, secrets, expires_at, self.clock(), details)

    async def remove(self, workspace: str, reason: str) -> Removal:
        return await q.remove(self.store, self.channel, self.profile, workspace, reason, self.clock())

    async def forget_removal(self, workspace: str) -> bool:
        return await q.forget_removal(self.store, self.channel, self.profile, workspace)

    async def add_state(self, state_hash: str, expires_at: datetime) -> None:
        await q.add_state(self.store, self.channel, self.profile, state_hash, expires_at, self.clock())

    async def take_state(self, state_hash: str) -> bool:
        return await q.take_state(self.store, self.channel, self.profile, state_hash, self.clock())


async def reseal_all(store: Store, change: Callable[[str], str | None]) -> tuple[int, int]:
    """Every channel's stored secrets through `change` (key rotation); (changed, seen)."""
    return await q.reseal_all(store, change)
