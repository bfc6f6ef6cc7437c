"""The in-process channel (tests, the demo and an opt-in trial endpoint)."""

from __future__ import annotations

from adapters.memory.config import NAME, MemoryConfig
from adapters.spec import ChannelDeps, ChannelSpec


def build(deps: ChannelDeps, config: MemoryConfig) -> MemoryChannel:
    return MemoryChannel(deps.service, deps.profile, config)


SPEC = ChannelSpec(name=NAME, config=MemoryConfig, build=build)

# After SPEC: the channel module reads its name from it.
from adapters.memory.channel import TRIAL_EVENTS, Delivered, MemoryChannel, http_routes  # noqa: E402

__all__ = ["SPEC", "TRIAL_EVENTS", "Delivered", "MemoryChannel", "MemoryConfig", "http_routes"]
