"""Everything a running npsbot holds, built once from the configuration."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from adapters.spec import Channel, ChannelDeps
from adapters.webhook import SPEC as WEBHOOK
from adapters.webhook import WebhookConfig
from adapters.webhook.events import EventSender
from bots.channels import build_channels
from bots.config import Config
from bots.metrics import Metrics, journaled_channels
from bots.scheduled_jobs import scheduled_jobs
from bots.startup import ChannelStarts, RetryPolicy
from bots.token_keys import secret_box
from bots.worker import Worker
from core.channel import OutboundChannel
from core.retention_pass import RetentionPass
from core.rollup_folding import RollupFolder
from core.scheduler import Scheduler
from core.service import SurveyService, utcnow
from core.store import Store
from core.suppression import SuppressionKeys


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
        self.secrets = secret_box(config.token_keys)  # seals tokens channels keep in the database
        self.service = SurveyService(self.store, self.profiles, clock, SuppressionKeys(config.privacy.keys()))
        self.channels: list[Channel] = build_channels({n: p.channels for n, p in config.profiles.items()}, self.deps)
        self.senders: dict[tuple[str, str], OutboundChannel] = {(c.name, c.profile): c for c in self.channels}
        self.starts = ChannelStarts(self.channels, start_retry)
        self.events = EventSender(event_secrets(config))
        self.senders[("events", "*")] = self.events
        self.metrics = Metrics(clock, journaled_channels(self.channels))
        self.worker = Worker(
            self.service,
            self.senders,
            config.worker.settings(),
            metrics=self.metrics,
        )
        # Retention and pruning: a chore of every worker, run by one at a time under its stored lease.
        self.retention = RetentionPass(self.store, self.profiles, config.pruning.settings(), self.service.clock)
        self.worker.background.append(self.retention.run)
        # Campaigns and digests: stored schedules, each occurrence run once among all workers.
        self.scheduler = Scheduler(self.store, scheduled_jobs(self), self.service.clock)
        self.worker.background.append(self.scheduler.run)
        # The report rollups' change logs folded into the rollups: a chore of every worker (folds never collide).
        self.worker.background.append(RollupFolder(self.store).run)

    def deps(self, profile: str) -> ChannelDeps:
        """What one profile's channels are built from."""
        return ChannelDeps(
            profile=profile,
            settings=self.profiles[profile],
            service=self.service,
            store=self.store,
            clock=self.service.clock,
            public_url=self.config.server.public_url,
            lease=self.config.worker.lease,  # a crashed process's journaled requests wait this long, as its sends do
            secrets=self.secrets,
        )

    def channel(self, channel: str, profile: str) -> Channel:
        for c in self.channels:
            if (c.name, c.profile) == (channel, profile):
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


def event_secrets(config: Config) -> dict[tuple[str, str], str | None]:
    """Each subscription signs with its own secret, else with the secret of the profile's webhook channel."""
    out: dict[tuple[str, str], str | None] = {}
    for name, profile in config.profiles.items():
        webhook = profile.channels.get(WEBHOOK.name)
        fallback = webhook.secrets[0] if isinstance(webhook, WebhookConfig) else None
        for sub in profile.subscriptions:
            out[(name, sub.url)] = sub.secret or fallback
    return out
