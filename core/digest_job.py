"""A profile's digest on its stored schedule (`digest:<profile>`): at each occurrence the figures of the period it
closes are gathered, the chart drawn in a worker thread, and one outbox row per target written in the same
transaction that ends the occurrence, so several workers send one digest, and downtime sends one, not ten."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.digest import DigestFigures, gather, render
from core.digest_chart import trend_png
from core.digest_settings import DigestSettings
from core.profiles import ProfileSettings
from core.reports.summary import MIN_RESPONSES
from core.scheduler import Turn
from core.schedules import Schedule, zone
from core.store import Store
from core.store.outbox import NewMessage, enqueue
from core.types import Digest


def job_name(profile: str) -> str:
    return f"digest:{profile}"


@dataclass(frozen=True, slots=True)
class Prepared:
    """A digest ready to queue: its figures and the action every target receives."""

    figures: DigestFigures
    action: Digest


class DigestJob:
    def __init__(
        self, store: Store, settings: ProfileSettings, clock: Callable[[], datetime], minimum: int = MIN_RESPONSES
    ) -> None:
        assert settings.digest is not None
        self.store, self.settings, self.clock, self.minimum = store, settings, clock, minimum
        self.digest: DigestSettings = settings.digest
        self.name = job_name(settings.name)
        self.schedule: Schedule = self.digest.schedule
        self.tz: ZoneInfo = zone(self.digest.timezone)

    @property
    def locale(self) -> str:
        return self.digest.locale or self.settings.policy.locale

    async def prepare(self, until: datetime, previous: datetime) -> Prepared:
        """The digest of the period ending `until`: the configured length, else since the previous occurrence."""
        d = self.digest
        since = until - d.period if d.period is not None else previous
        figures = await gather(
            self.store,
            self.settings.name,
            since,
            until,
            self.clock(),
            benchmark=self.settings.benchmark,
            movers=d.movers,
            min_responses=d.min_responses,
            trend_periods=d.trend_periods,
            minimum=self.minimum,
        )
        subject, body = render(figures, self.settings.policy.brand, self.locale, self.tz)
        png = await asyncio.to_thread(trend_png, figures.trend, self.locale, figures.bucket, self.settings.benchmark)
        image = None if png is None else base64.b64encode(png).decode("ascii")
        return Prepared(figures, Digest(body, subject, image, figures=figures.as_dict()))

    def messages(self, action: Digest) -> list[NewMessage]:
        """One outbox row per target; the row's conversation id is the destination."""
        out = []
        for t in self.digest.targets:
            target: dict[str, Any] = {"conversation_id": t.destination, "user_id": "", "thread": None}
            target["locale"] = self.locale
            key = f"{t.channel}:{self.settings.name}:digest:{t.destination}"
            out.append(NewMessage(self.settings.name, t.channel, key, target, action))
        return out

    def period_ending(self, until: datetime) -> datetime:
        """Where a digest asked for by hand at `until` starts: the configured period, else one step of the
        schedule (a weekly cron: seven days)."""
        if self.digest.period is not None:
            return until - self.digest.period
        following = self.schedule.next_after(until, self.tz)
        return until - (following - self.schedule.previous(following, self.tz))

    async def send_now(self) -> int:
        """One digest of the period ending now, queued for every target; the stored schedule is left as it is."""
        now = self.clock()
        prepared = await self.prepare(now, self.period_ending(now))
        messages = self.messages(prepared.action)
        async with self.store.transaction() as conn:
            await enqueue(conn, messages, now)
        return len(messages)

    async def run(self, turn: Turn) -> dict[str, int]:
        prepared = await self.prepare(turn.occurrence.at, turn.occurrence.previous)
        messages = self.messages(prepared.action)
        counts = {"messages": len(messages), "responses": prepared.figures.current.responses}

        async def queue(conn: Any) -> None:
            await enqueue(conn, messages, self.clock())

        await turn.finish(counts, work=queue)
        return counts
