"""Quiet hours: a daily stretch of the customer's wall-clock time ("21:00-09:00") in which no survey message is
sent. A message due inside them goes out at their end, read in the customer's zone across midnight and DST: a
local end time the clocks skip moves to the first instant after the gap, one they repeat takes its first
occurrence."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.schedules import zone

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class QuietHours:
    """From `start` (inclusive) to `end` (exclusive), local time; `start` after `end` crosses midnight."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """Text as HH:MM-HH:MM; ValueError with a one-line reason for anything else."""
        match = _WINDOW.match(str(text))
        if not match:
            raise ValueError(f"{text!r}: write quiet hours as HH:MM-HH:MM, e.g. 21:00-09:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ValueError(f"{text!r}: hours run from 00 to 23 and minutes from 00 to 59")
        start, end = time(h1, m1), time(h2, m2)
        if start == end:
            raise ValueError(f"{text!r}: the start and the end are the same time")
        return cls(start, end)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    @property
    def crosses_midnight(self) -> bool:
        return self.start > self.end

    def contains(self, instant: datetime, tz: ZoneInfo) -> bool:
        """Whether the customer's clock reads a quiet time at `instant`."""
        wall = instant.astimezone(tz).time().replace(tzinfo=None)
        if self.crosses_midnight:
            return wall >= self.start or wall < self.end
        return self.start <= wall < self.end

    def next_allowed(self, instant: datetime, tz: ZoneInfo) -> datetime:
        """`instant` itself outside quiet hours, else the first instant after it when they are over (UTC)."""
        current = instant
        # A day the zone skips (Pacific/Apia, 30 Dec 2011) can land the end of one quiet night inside the next one.
        for _ in range(8):
            if not self.contains(current, tz):
                return current
            current = self._end_after(current, tz)
        raise AssertionError(f"quiet hours {self} never end in {tz.key}")  # pragma: no cover

    def _end_after(self, instant: datetime, tz: ZoneInfo) -> datetime:
        """The first end of quiet hours after `instant`, which is inside them: the clock reaching `end`, or the
        clocks going back to before `start` first."""
        end = self._wall_end_after(instant, tz)
        change = _offset_change(instant, end, tz)
        if change is not None and change < end and not self.contains(change, tz):
            return change
        return end

    def _wall_end_after(self, instant: datetime, tz: ZoneInfo) -> datetime:
        local = instant.astimezone(tz)
        day = local.date()
        if self.crosses_midnight and local.time().replace(tzinfo=None) >= self.start:
            day += timedelta(days=1)
        for candidate in (day, day + timedelta(days=1)):
            for end in _instants(candidate, self.end, tz):
                if end > instant:
                    return end
        raise AssertionError("an end of quiet hours lies within two days")  # pragma: no cover


def _instants(day: date, wall: time, tz: ZoneInfo) -> list[datetime]:
    """The instants (UTC) at which the clock in `tz` reads `wall` on `day`, earliest first: none of them when the
    clocks skip it, so then the first instant after the gap; two when they repeat it."""
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) != naive:
        # Skipped: read with the offset after the jump it falls before the jump, with the one before it after it.
        jump = _offset_change(second, first, tz)
        assert jump is not None
        return [jump]
    return [first] if second == first else [first, second]


def _offset_change(after: datetime, until: datetime, tz: ZoneInfo) -> datetime | None:
    """The instant in (after, until] at which the zone's UTC offset changes (at most once in a day or two), or None."""
    offset = after.astimezone(tz).utcoffset()
    if until.astimezone(tz).utcoffset() == offset:
        return None
    # Offsets change on whole seconds: search the seconds in between for the first with the new offset.
    low, high = math.floor(after.timestamp()), math.ceil(until.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def customer_zone(*names: str | None) -> str:
    """The first name among `names` that is a known IANA zone (the contact's, then the platform's hint, then the
    profile's default); "UTC" when none is."""
    for name in names:
        if name:
            try:
                zone(name)
            except ValueError:
                continue
            return name
    return "UTC"
