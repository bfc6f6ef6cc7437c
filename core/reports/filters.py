"""One reading of report filters, shared by the operator API, the dashboard and `npsbot report`.

Dates bound when a survey was asked. `since` is inclusive and `until` exclusive, so consecutive windows never
overlap. A bare date is that day's first instant in UTC, except as `until`, where it includes the whole day
(`until=2026-01-31` ends at 2026-02-01T00:00Z, as a date picker's "To" means); a time is taken as written
(no offset means UTC). Years as written must lie in 1900–2999: outside them a date is a typo or a placeholder,
and the arithmetic reports do on it (a whole-day `until`, the previous period of equal length) would fall off the
calendar. An empty value is no filter, as a form's "all" sends it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from core.reports.summary import Filters

FIRST_YEAR, LAST_YEAR = 1900, 2999
MAX_DATE_TEXT = 64
DATE_ERRORS = frozenset({"date_malformed", "date_range"})
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # PostgreSQL text holds neither NUL nor a lone surrogate
_EXAMPLE = "such as 2026-01-31 or 2026-01-31T09:00+02:00"
_SPACED_OFFSET = re.compile(r"T[\d:.]+ \d{2}(:?\d{2})?$")  # 09:00+02:00 after a query string's + became a space


class FilterError(ValueError):
    """A filter that cannot be used, as one line naming the parameter. `malformed` (HTTP 400) when a date is not
    a date on the supported calendar; otherwise a value the filters refuse (HTTP 422)."""

    def __init__(self, message: str, *, malformed: bool) -> None:
        super().__init__(message)
        self.malformed = malformed

    @classmethod
    def of(cls, exc: ValidationError) -> FilterError:
        errors = exc.errors()
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'query'}: {e['msg']}" for e in errors[:8])
        return cls(problems, malformed=any(e["type"] in DATE_ERRORS for e in errors))


def blank_is_none(value: Any) -> Any:
    return None if value == "" else value


def storable(value: str | None) -> str | None:
    """Refused here rather than failing in the database driver."""
    if value is not None and _UNSTORABLE.search(value):
        raise PydanticCustomError("unstorable", "must not contain NUL characters or unpaired surrogates")
    return value


def _parse(text: str) -> tuple[datetime, bool]:
    """The instant as written and whether it was a bare date."""
    if len(text) > MAX_DATE_TEXT:
        raise PydanticCustomError("date_malformed", f"too long for an ISO 8601 date or time {_EXAMPLE}")
    try:
        return datetime.combine(date.fromisoformat(text), time()), True
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text), False
    except ValueError:
        hint = " (a + in a URL query reads as a space: send it as %2B)" if _SPACED_OFFSET.search(text) else ""
        raise PydanticCustomError(
            "date_malformed", "{text} is not an ISO 8601 date or time " + _EXAMPLE + hint, {"text": repr(text)}
        ) from None


def _instant(value: Any, *, whole_day: bool) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        written, bare = value, False
    elif isinstance(value, date):
        written, bare = datetime.combine(value, time()), True
    elif isinstance(value, str):
        written, bare = _parse(value)
    else:
        raise PydanticCustomError("date_malformed", f"must be an ISO 8601 date or time {_EXAMPLE}")
    if not FIRST_YEAR <= written.year <= LAST_YEAR:
        raise PydanticCustomError(
            "date_range",
            "year {year} is out of range: dates must fall in the years {first} to {last}",
            {"year": written.year, "first": FIRST_YEAR, "last": LAST_YEAR},
        )
    instant = (written if written.tzinfo else written.replace(tzinfo=UTC)).astimezone(UTC)
    return instant + timedelta(days=1) if bare and whole_day else instant


def _since(value: Any) -> datetime | None:
    return _instant(value, whole_day=False)


def _until(value: Any) -> datetime | None:
    return _instant(value, whole_day=True)


Text = Annotated[str | None, BeforeValidator(blank_is_none), AfterValidator(storable)]
Since = Annotated[datetime | None, BeforeValidator(_since)]
Until = Annotated[datetime | None, BeforeValidator(_until)]


class QueryParams(BaseModel):
    """Query parameters or CLI options: unknown keys refused, problems one FilterError line naming the key."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Self:
        """Validate query parameters or options; FilterError (one line) instead of pydantic's report."""
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise FilterError.of(exc) from None


class ReportFilters(QueryParams):
    """The filters every report takes; subclasses add what one surface needs (paging, buckets, comment search)."""

    profile: Text = Field(None, max_length=64)
    channel: Text = Field(None, max_length=32)
    agent: Text = Field(None, max_length=191)
    team: Text = Field(None, max_length=191)
    locale: Text = Field(None, max_length=16)
    workspace: Text = Field(None, max_length=64)
    kind: Literal["transactional", "relational"] | None = None
    campaign: Text = Field(None, max_length=64)
    variant: Text = Field(None, max_length=64)
    since: Since = None
    until: Until = None

    def filters(self, profiles: tuple[str, ...] | None = None) -> Filters:
        """The SQL-side filters, restricted to `profiles` (the caller's view) when given."""
        return Filters(
            profile=self.profile,
            channel=self.channel,
            agent=self.agent,
            team=self.team,
            locale=self.locale,
            workspace=self.workspace,
            kind=self.kind,
            campaign=self.campaign,
            variant=self.variant,
            since=self.since,
            until=self.until,
            profiles=profiles,
        )
