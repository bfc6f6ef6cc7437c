"""Human durations in config ("90s", "24h", "30d", "1h30m", or plain seconds)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 24h or 7d")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"expected a duration of zero or more, got {value!r}")
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if text.isdigit():
            return timedelta(seconds=int(text))
        pos, total = 0, 0.0
        for m in _PART.finditer(text):
            if m.start() != pos:
                break
            total += float(m.group(1)) * _UNITS[m.group(2)]
            pos = m.end()
        if text and pos == len(text):
            return timedelta(seconds=total)
    raise ValueError(f"expected a duration such as 30s, 24h or 7d, got {value!r}")


def _longer_than_zero(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return value


def _question_lasts(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0s, or every question would expire as it is sent")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[Duration, AfterValidator(_longer_than_zero)]
QuestionExpiry = Annotated[Duration, AfterValidator(_question_lasts)]
"""How long a question stays open (a policy's or a campaign's `expiry`): a zero would expire it as it is sent."""
