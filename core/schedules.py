"""When something recurs: a cron expression stepped in a time zone (cronsim: DST gaps and repeats as cron reads
them) or a fixed interval ("every 90d"). Occurrences are instants in UTC; the zone only decides where they fall."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

_EVERY = re.compile(r"^every\s+(\d+)\s*(m|h|d|w)$", re.IGNORECASE)
_UNIT = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
MIN_INTERVAL = timedelta(minutes=5)
# A catch-up after downtime walks the occurrences it missed; beyond this many it jumps (a minute cron after a year).
MAX_STEPS = 10_000


def zone(name: str) -> ZoneInfo:
    """An IANA zone by name; ValueError naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as Europe/Madrid") from None


@dataclass(frozen=True, slots=True)
class Schedule:
    """`cron` (five fields, read in the schedule's zone) or `every` (a fixed interval from the first run)."""

    text: str
    cron: str | None = None
    every: timedelta | None = None

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """ValueError with a one-line reason for anything else."""
        written = " ".join(str(text).split())
        match = _EVERY.match(written)
        if match:
            every = int(match.group(1)) * _UNIT[match.group(2).lower()]
            if every < MIN_INTERVAL:
                raise ValueError(f"{written!r}: an interval must be at least {int(MIN_INTERVAL.total_seconds())}s")
            return cls(written, every=every)
        if len(written.split(" ")) != 5:
            raise ValueError(f"{written!r}: write a cron expression with five fields or 'every <n>m|h|d|w'")
        try:
            CronSim(written, datetime(2026, 1, 1, tzinfo=UTC))
        except CronSimError as exc:
            raise ValueError(f"{written!r}: {exc}") from None
        return cls(written, cron=written)

    def next_after(self, after: datetime, tz: ZoneInfo, anchor: datetime | None = None) -> datetime:
        """The first occurrence strictly after `after`. An interval counts from `anchor` (its first run), so its
        occurrences stay on one grid however late each run was."""
        if self.every is not None:
            start = anchor or after
            if after < start:
                return start
            steps = (after - start) // self.every + 1
            return start + steps * self.every
        assert self.cron is not None
        local = after.astimezone(tz)
        return next(CronSim(self.cron, local)).astimezone(UTC)

    def first(self, now: datetime, tz: ZoneInfo) -> datetime:
        """When a schedule seen for the first time is first due: an interval at once, a cron at its next time."""
        return now if self.every is not None else self.next_after(now, tz)

    def latest(self, due: datetime, now: datetime, tz: ZoneInfo, anchor: datetime | None = None) -> datetime:
        """The last occurrence at or before `now`, `due` being the one that was due (`due` <= `now`): after downtime
        the missed occurrences collapse into this one."""
        if now < due:
            return due
        if self.every is not None:
            start = anchor or due
            return start + ((now - start) // self.every) * self.every
        current = due
        for _ in range(MAX_STEPS):
            following = self.next_after(current, tz)
            if following > now:
                return current
            current = following
        return self._at_or_before(now, tz)

    def previous(self, occurrence: datetime, tz: ZoneInfo) -> datetime:
        """The occurrence before `occurrence`: where the period it closes began (a digest's week)."""
        if self.every is not None:
            return occurrence - self.every
        assert self.cron is not None
        return next(CronSim(self.cron, occurrence.astimezone(tz), reverse=True)).astimezone(UTC)

    def at_or_before(self, instant: datetime, tz: ZoneInfo, anchor: datetime | None = None) -> datetime:
        """The last occurrence at or before `instant` (an interval's grid counts from `anchor`; without one, or
        before it, `instant` itself)."""
        if self.every is not None:
            if anchor is None or instant < anchor:
                return instant
            return anchor + ((instant - anchor) // self.every) * self.every
        return self._at_or_before(instant, tz)

    def _at_or_before(self, instant: datetime, tz: ZoneInfo) -> datetime:
        assert self.cron is not None
        before = next(CronSim(self.cron, instant.astimezone(tz), reverse=True)).astimezone(UTC)  # strictly before
        following = self.next_after(before, tz)
        return following if following <= instant else before
