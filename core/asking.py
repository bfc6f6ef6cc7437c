"""When and in which words a survey's messages go out, apart from the lifecycle itself (core/survey): the
customer's quiet hours, the one reminder's time, the sample and the variant's wording. Plain values in and out, so
core/survey and the campaigns read the same rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from core.messages import MessageCatalog
from core.quiet_hours import QuietHours
from core.sampling import period_index, sampled
from core.schedules import zone
from core.types import Address
from core.variants import Variant, named


def allowed_at(due: datetime, quiet: QuietHours | None, timezone: str) -> datetime:
    """`due`, or the end of the customer's quiet hours when `due` falls inside them."""
    return due if quiet is None else quiet.next_allowed(due, zone(timezone))


def reminder_at(
    asked_at: datetime, reminder: timedelta | None, expiry: timedelta, quiet: QuietHours | None, timezone: str
) -> datetime | None:
    """When the one reminder is due: `reminder` after the question, out of quiet hours; None when there is no
    reminder or it would fall at or after the question's expiry."""
    if reminder is None:
        return None
    at = allowed_at(asked_at + reminder, quiet, timezone)
    return at if at < asked_at + expiry else None


def in_sample(address: Address, rate: float, period: timedelta, now: datetime) -> bool:
    """Whether a conversation closed at `now` is asked under the profile's sample rate (core/sampling)."""
    return rate >= 1.0 or sampled(rate, address.profile, address.channel, address.user_id, period_index(now, period))


def question_text(
    variants: Sequence[Variant], variant: str | None, locale: str, messages: MessageCatalog, brand: str
) -> str:
    """The question in the survey's variant's wording for its locale, else the catalogue's."""
    chosen = named(variants, variant)
    wording = chosen.wording(locale) if chosen is not None else None
    if wording is None:
        return messages.text("question", locale, brand=brand)
    try:
        return wording.format(brand=brand)  # the config allows {brand} only (bots/survey_rules_config.py)
    except (KeyError, IndexError, ValueError):
        return wording
