"""Did the question reach the customer? Per channel: questions sent and delivered, and the response rate against
delivered questions (a response rate against questions that never arrived blames the customer for the platform);
and surveys skipped, by reason (throttled, opted out, unreachable, outside the messaging window, …).

A channel that reports delivery statuses (WhatsApp's `statuses`, Messenger's delivery and read receipts) counts a
question as delivered once it was delivered or read; one that reports none (Telegram, Slack, a bridge) counts the
questions it sent. A response proves delivery either way, so a status lost on the way never makes the rate exceed
100 %. A channel reports statuses when any of its questions in the period got one. The counts come from the report
rollups (core/reports/rollup_query.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.reports.rollup_counts import day_counts, skip_counts
from core.reports.summary import Filters
from core.store import Store


@dataclass(frozen=True, slots=True)
class ChannelDelivery:
    asked: int
    sent: int  # left us (a status or a platform id recorded), or answered
    reached: int  # delivered or read, or answered
    failed: int
    reported: int  # questions with a status only a platform reports (delivered, read, failed)
    responses: int

    @property
    def statuses(self) -> bool:
        return self.reported > 0

    @property
    def delivered(self) -> int:
        """Questions delivered: reached ones where the channel reports statuses, else the ones sent."""
        return self.reached if self.statuses else self.sent

    @property
    def response_rate(self) -> float | None:
        return None if self.delivered == 0 else self.responses / self.delivered

    def as_dict(self) -> dict[str, Any]:
        return {
            "questions_sent": self.sent,
            "questions_delivered": self.delivered,
            "questions_failed": self.failed,
            "delivery_reported": self.statuses,
            "response_rate_delivered": None if self.response_rate is None else round(self.response_rate, 4),
        }


DELIVERY = ("q_sent", "q_reached", "q_failed", "q_reported", "responses")


async def delivery_by_channel(store: Store, filters: Filters = Filters()) -> dict[str, ChannelDelivery]:
    """Questions asked in the period (filters apply to when they were asked, as the NPS report's do), per channel."""
    async with store.read() as conn:
        got = await day_counts(conn, filters, DELIVERY, by=("channel",))
    return {
        key[0]: ChannelDelivery(c["asked"], c["q_sent"], c["q_reached"], c["q_failed"], c["q_reported"], c["responses"])
        for key, c in got.items()
    }


async def skipped_by_reason(store: Store, filters: Filters = Filters()) -> dict[str, dict[str, int]]:
    """{channel: {reason: surveys}} for surveys skipped in the period. Most are skipped when the conversation
    closes and are never asked, so the period here is when the survey was created."""
    async with store.read() as conn:
        got = await skip_counts(conn, filters, ("channel", "reason"))
    out: dict[str, dict[str, int]] = {}
    for (channel, why), n in got.items():
        out.setdefault(channel, {})[str(why)] = n
    return out


def total_skipped(by_channel: dict[str, dict[str, int]]) -> dict[str, int]:
    """Skipped surveys by reason over every channel, most frequent first."""
    total: dict[str, int] = {}
    for reasons in by_channel.values():
        for why, n in reasons.items():
            total[why] = total.get(why, 0) + n
    return dict(sorted(total.items(), key=lambda kv: (-kv[1], kv[0])))


async def channel_rows(store: Store, filters: Filters, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The `by channel` breakdown's rows with each channel's delivery figures and skipped counts added, as the API,
    the dashboard and `npsbot report` show them."""
    delivered = await delivery_by_channel(store, filters)
    skipped = await skipped_by_reason(store, filters)
    empty = ChannelDelivery(0, 0, 0, 0, 0, 0)
    return [
        {**row, **delivered.get(row["key"], empty).as_dict(), "skipped": skipped.get(row["key"], {})} for row in rows
    ]
