"""Prometheus `/metrics`: counters from the worker, gauges read from the database at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest

from core.inbound_journal import InboundJournal
from core.service import utcnow
from core.store import journal as jr
from core.store import outbox as ob
from core.store import surveys as q
from core.survey import State

if TYPE_CHECKING:
    from core.store import Store


class Metrics:
    """Counters live in each process (a worker-only process serves its own on `worker.metrics_port`); the gauges
    are read from the database, so every process reports the same queue."""

    def __init__(self, clock: Callable[[], datetime] = utcnow, journaled: Iterable[str] = ()) -> None:
        self.clock = clock
        self.journaled = frozenset(journaled)  # channels whose journal series exist even while they are empty
        self.registry = CollectorRegistry()
        labels = ["channel", "kind"]
        self.sent = Counter("npsbot_messages_sent", "Messages delivered", labels, registry=self.registry)
        self.failed = Counter("npsbot_messages_failed", "Send attempts that failed", labels, registry=self.registry)
        self.retried = Counter(
            "npsbot_messages_retried", "Messages scheduled for a retry", labels, registry=self.registry
        )
        self.dead = Counter(
            "npsbot_messages_dead", "Messages given up on (dead letters)", labels, registry=self.registry
        )
        self.rate_limited = Counter(
            "npsbot_messages_rate_limited", "429 answers from a platform", labels, registry=self.registry
        )
        self.surveys = Gauge("npsbot_surveys", "Surveys by state", ["state"], registry=self.registry)
        self.outbox = Gauge("npsbot_outbox_messages", "Outbox messages by status", ["status"], registry=self.registry)
        self.queue_depth = Gauge("npsbot_queue_depth", "Messages waiting to be sent", registry=self.registry)
        self.oldest = Gauge(
            "npsbot_oldest_pending_seconds", "Age of the oldest message waiting to be sent", registry=self.registry
        )
        self.journal = Gauge(
            "npsbot_inbound_journal",
            "Requests acknowledged but not yet processed (pending) or given up on (dead)",
            ["channel", "status"],
            registry=self.registry,
        )

    async def refresh(self, store: Store, now: datetime | None = None) -> None:
        async with store.read() as conn:
            states = await q.count_by_state(conn)
            stats = await ob.stats(conn, now or self.clock())
            journal = await jr.count_by_status(conn)
        for state in State:
            self.surveys.labels(str(state)).set(states.get(str(state), 0))
        for status in (ob.PENDING, ob.SENDING, ob.SENT, ob.DEAD):
            self.outbox.labels(status).set(stats["by_status"].get(status, 0))
        self.queue_depth.set(stats["by_status"].get(ob.PENDING, 0) + stats["by_status"].get(ob.SENDING, 0))
        self.oldest.set(stats["oldest_pending_age"])
        always = {(channel, status) for channel in self.journaled for status in (jr.PENDING, jr.DEAD)}
        for channel, status in {*journal, *always}:
            self.journal.labels(channel, status).set(journal.get((channel, status), 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def journaled_channels(channels: Iterable[object]) -> set[str]:
    """The channels that opted into the inbound journal: each holds its `InboundJournal` as `journal`."""
    return {j.channel for c in channels if isinstance(j := getattr(c, "journal", None), InboundJournal)}


def metrics_route(metrics: Metrics, store: Store) -> web.RouteDef:
    async def handle(_request: web.Request) -> web.Response:
        await metrics.refresh(store)
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return web.get("/metrics", handle)
