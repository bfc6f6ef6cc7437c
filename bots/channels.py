"""Finds every channel (the `adapters` packages that export a SPEC, and installed packages declaring an entry
point in the `npsbot.channels` group) and builds each profile's configured channels from their specs. No channel
is named here: a new one is a package, found the same way whether it ships with npsbot or is pip-installed."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points

from pydantic import BaseModel

import adapters
from adapters.spec import Channel, ChannelDeps, ChannelSpec

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "npsbot.channels"


@dataclass(frozen=True)
class Discovered:
    """The specs found, by name, and the entry points that failed to load (by their name) with the reason: such a
    package is an error only for a configuration that uses it."""

    specs: Mapping[str, ChannelSpec] = field(default_factory=dict)
    broken: Mapping[str, str] = field(default_factory=dict)

    def unknown(self, name: str) -> str:
        """Why `name` is not a channel, for a configuration problem."""
        if name in self.broken:
            return f"the installed channel package {name!r} failed to load ({self.broken[name]})"
        return f"unknown channel {name!r}; known: {', '.join(sorted(self.specs)) or 'none'}"


@cache
def discover() -> Discovered:
    """Built-ins first, then entry points; two specs of one name are an error naming where each came from. Cached:
    call `discover.cache_clear()` after changing what is installed."""
    specs: dict[str, ChannelSpec] = {}
    origins: dict[str, str] = {}
    broken: dict[str, str] = {}

    def add(spec: ChannelSpec, origin: str) -> None:
        if spec.name in specs:
            raise ValueError(f"channel {spec.name!r} is defined twice: by {origins[spec.name]} and by {origin}")
        specs[spec.name], origins[spec.name] = spec, origin

    for module in pkgutil.iter_modules(adapters.__path__, "adapters."):
        spec = getattr(importlib.import_module(module.name), "SPEC", None) if module.ispkg else None
        if isinstance(spec, ChannelSpec):
            add(spec, module.name)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = ep.load()
        except Exception as exc:  # a broken package must not take down the channels that work
            broken[ep.name] = f"{type(exc).__name__}: {exc}"
            log.warning("channel package %s (%s) failed to load: %s", ep.name, ep.value, broken[ep.name])
            continue
        if not isinstance(loaded, ChannelSpec):
            broken[ep.name] = f"{ep.value} is a {type(loaded).__name__}, not a ChannelSpec"
            log.warning("channel package %s: %s", ep.name, broken[ep.name])
            continue
        add(loaded, f"the entry point {ep.name} = {ep.value}")
    return Discovered(specs, broken)


def build_channels(
    configured: Mapping[str, Mapping[str, BaseModel]], deps: Callable[[str], ChannelDeps]
) -> list[Channel]:
    """`configured` maps each profile to its channels' validated configs (bots.config); `deps(profile)` gives what
    that profile's channels may use."""
    specs = discover().specs
    channels: list[Channel] = []
    for profile, configs in configured.items():
        for name, config in configs.items():
            channel = specs[name].build(deps(profile), config)
            if getattr(channel, "name", None) != name or getattr(channel, "profile", None) != profile:
                raise TypeError(f"channel {name!r}: its builder returned a channel whose name or profile differs")
            channels.append(channel)
    return channels
