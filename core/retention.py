"""How long personal data and operational rows are kept. Settings only (the pass that applies them is
core.retention_pass), so a profile's settings can hold them without an import loop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

ANONYMOUS = "anonymous"  # what a survey's customer ids read once its personal fields are gone


@dataclass(frozen=True, slots=True)
class Retention:
    """A profile's limits, in days after a survey ended (None keeps the data). Scores, categories, dates, agent,
    team, channel and locale stay, so the report's figures never change."""

    comments_days: int | None = None  # the comment and the replies that were not a score
    personal_days: int | None = None  # customer name, ids (user, conversation, thread, case), metadata, contact
    keep_metadata: tuple[str, ...] = ()  # metadata keys that are not personal (e.g. "plan"): kept with the scores

    def comments_cutoff(self, now: datetime) -> datetime | None:
        return None if self.comments_days is None else now - timedelta(days=self.comments_days)

    def personal_cutoff(self, now: datetime) -> datetime | None:
        return None if self.personal_days is None else now - timedelta(days=self.personal_days)


@dataclass(frozen=True, slots=True)
class Pruning:
    """Operational rows every profile shares, and how often the pass runs. The defaults are written here only."""

    sent_messages: timedelta = timedelta(days=7)  # delivered outbox rows (their survey no longer open)
    dead_letters: timedelta = timedelta(days=30)  # messages given up on, shown at /api/v1/dead-letters meanwhile
    # Delivery keys stop a platform's redelivery from counting twice and answer a replayed Idempotency-Key with
    # the survey it created: kept well past every sender's redelivery window (Telegram 24 h, Slack minutes,
    # Standard Webhooks senders a few days, WhatsApp up to 7 days).
    delivery_keys: timedelta = timedelta(days=30)
    dead_requests: timedelta = timedelta(days=30)  # inbound journal rows given up on (they hold the raw request)
    every: timedelta = timedelta(hours=1)
    batch: int = 1000  # rows per statement; each batch is its own short transaction
    lease: timedelta = timedelta(minutes=5)  # a crashed runner's turn passes to another worker after this


MIN_DELIVERY_KEYS = timedelta(days=8)  # longer than the longest redelivery window a platform documents (7 days)
