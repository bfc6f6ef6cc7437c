"""Builds one channel handle per (profile, platform) from the configuration."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from adapters.memory import MemoryChannel, http_routes
from core.store.outbox import OutboxItem

if TYPE_CHECKING:
    from bots.config import MemoryConfig
    from bots.runtime import Runtime


class ChannelHandle(Protocol):
    """What the composition root needs from an adapter: routes, a sender and a lifecycle."""

    channel: str
    profile: str

    def mount(self, app: web.Application) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, item: OutboxItem) -> str | None: ...


class MemoryHandle:
    """The in-process channel as a handle (nothing to start). Its trial endpoint is mounted only for profiles whose
    `memory` config says `http: true`, each behind its own token."""

    channel = "memory"

    def __init__(self, runtime: Runtime, profile: str, settings: MemoryConfig) -> None:
        self.profile = profile
        self.memory = MemoryChannel(runtime.service, profile)
        self.token = settings.token if settings.http else None
        self._runtime = runtime

    def mount(self, app: web.Application) -> None:
        """One route serves every memory profile that enables it; the first such handle mounts it."""
        if self.token is None:
            return
        if any(r.resource and r.resource.canonical == "/memory/{profile}" for r in app.router.routes()):
            return
        handles = [c for c in self._runtime.channels if isinstance(c, MemoryHandle) and c.token]
        app.router.add_routes(
            http_routes({c.profile: c.memory for c in handles}, {c.profile: c.token for c in handles if c.token})
        )

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, item: OutboxItem) -> str | None:
        return await self.memory.send(item)


Factory = Callable[["Runtime", str, Any], ChannelHandle]


def telegram_handle(runtime: Runtime, profile: str, config: Any) -> ChannelHandle:
    from adapters.telegram import TelegramChannel

    return TelegramChannel(
        runtime.service,
        profile,
        runtime.profiles[profile],
        config,
        public_url=runtime.config.server.public_url,
        clock=runtime.service.clock,
    )


def webhook_handle(runtime: Runtime, profile: str, config: Any) -> ChannelHandle:
    from adapters.webhook.channel import WebhookChannel

    return WebhookChannel(runtime.service, profile, runtime.profiles[profile], config)


def chatwoot_handle(runtime: Runtime, profile: str, config: Any) -> ChannelHandle:
    from adapters.chatwoot import ChatwootChannel

    return ChatwootChannel(runtime.service, profile, runtime.profiles[profile], config)


def slack_handle(runtime: Runtime, profile: str, config: Any) -> ChannelHandle:
    from adapters.slack import SlackChannel

    return SlackChannel(
        runtime.service,
        profile,
        runtime.profiles[profile],
        config,
        clock=runtime.service.clock,
        lease=runtime.config.worker.lease,  # a crashed process's journaled requests wait this long, as its sends do
    )


FACTORIES: dict[str, Factory] = {
    "memory": MemoryHandle,
    "slack": slack_handle,
    "telegram": telegram_handle,
    "webhook": webhook_handle,
    "chatwoot": chatwoot_handle,
}


def event_secrets(runtime: Runtime) -> dict[tuple[str, str], str | None]:
    """Each subscription signs with its own secret, else with the profile's webhook secret."""
    out: dict[tuple[str, str], str | None] = {}
    for name, profile in runtime.config.profiles.items():
        fallback = profile.channels.webhook.secrets[0] if profile.channels.webhook else None
        for sub in profile.subscriptions:
            out[(name, sub.url)] = sub.secret or fallback
    return out


def build_channels(runtime: Runtime) -> list[ChannelHandle]:
    handles: list[ChannelHandle] = []
    for name, profile in runtime.config.profiles.items():
        for channel in profile.channels.enabled():
            factory = FACTORIES.get(channel)
            if factory is None:
                raise RuntimeError(f"profiles.{name}.channels.{channel}: no adapter is available for this channel")
            handles.append(factory(runtime, name, getattr(profile.channels, channel)))
    return handles
