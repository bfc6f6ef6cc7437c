"""Everything a running npsbot holds, built once from the configuration."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from adapters.webhook.events import EventSender
from bots.channels import ChannelHandle, build_channels, event_secrets
from bots.config import Config
from bots.metrics import Metrics, journaled_channels
from bots.startup import ChannelStarts, RetryPolicy
from bots.worker import Worker
from core.delivery import Sender
from core.service import SurveyService, utcnow
from core.store import Store


class Runtime:
    def __init__(
        self,
        config: Config,
        *,
        store: Store | None = None,
        clock: Callable[[], datetime] = utcnow,
        start_retry: RetryPolicy | None = None,
    ) -> None:
        self.config = config
        self.store = store or Store(config.database_url)
        self.profiles = config.profile_settings()
        self.service = SurveyService(self.store, self.profiles, clock)
        self.channels: list[ChannelHandle] = build_channels(self)
        self.senders: dict[tuple[str, str], Sender] = {(c.channel, c.profile): c for c in self.channels}
        self.starts = ChannelStarts(self.channels, start_retry)
        self.events = EventSender(event_secrets(self))
        self.senders[("events", "*")] = self.events
        self.metrics = Metrics(clock, journaled_channels(self.channels))
        self.worker = Worker(
            self.service,
            self.senders,
            config.worker.settings(),
            metrics=self.metrics,
        )

    def channel(self, channel: str, profile: str) -> ChannelHandle:
        for c in self.channels:
            if (c.channel, c.profile) == (channel, profile):
                return c
        raise LookupError(f"{profile} has no {channel} channel")

    async def start(self) -> None:
        """Never raises for a channel: one that cannot reach its platform is retried in the background."""
        await self.starts.start()

    def degraded(self) -> dict[str, str]:
        """Channels not started yet ("telegram:shop") and why, for /healthz."""
        return dict(self.starts.failures)

    async def stop(self) -> None:
        self.worker.stop()
        await self.starts.stop()
        for c in self.channels:
            await c.stop()
        await self.events.stop()
        await self.store.dispose()
