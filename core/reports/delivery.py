"""Did the question reach the customer? Per channel: questions sent and delivered, and the response rate against
delivered questions (a response rate against questions that never arrived blames the customer for the platform);
and surveys skipped, by reason (throttled, opted out, unreachable, outside the messaging window, …). Each is one
SQL aggregate.

A channel that reports delivery statuses (WhatsApp's `statuses`, Messenger's delivery and read receipts) counts a
question as delivered once it was delivered or read; one that reports none (Telegram, Slack, a bridge) counts the
questions it sent. A response proves delivery either way, so a status lost on the way never makes the rate exceed
100 %. A channel reports statuses when any of its questions in the period got one."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import case, func, or_, select

from core.question_status import REACHED, QuestionStatus
from core.reports.summary import Filters
from core.store import Store
from core.store.tables import SurveyRow

S = SurveyRow.__table__
SKIPPED = "skipped"


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


def _sum(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def delivery_by_channel(store: Store, filters: Filters = Filters()) -> dict[str, ChannelDelivery]:
    """Questions asked in the period (filters apply to when they were asked, as the NPS report's do), per channel."""
    status = S.c.question_status
    answered = S.c.score.is_not(None)
    reached = [str(s) for s in REACHED]
    q = (
        select(
            S.c.channel,
            func.count().label("asked"),
            _sum(or_(status.is_not(None), S.c.question_ref.is_not(None), answered)).label("sent"),
            _sum(or_(status.in_(reached), answered)).label("reached"),
            _sum(status == str(QuestionStatus.FAILED)).label("failed"),
            _sum(status.in_([*reached, str(QuestionStatus.FAILED)])).label("reported"),
            _sum(answered).label("responses"),
        )
        .where(S.c.asked_at.is_not(None), *filters.where())
        .group_by(S.c.channel)
    )
    async with store.read() as conn:
        rows = (await conn.execute(q)).all()
    return {
        r.channel: ChannelDelivery(
            int(r.asked), int(r.sent), int(r.reached), int(r.failed), int(r.reported), int(r.responses)
        )
        for r in rows
    }


async def skipped_by_reason(store: Store, filters: Filters = Filters()) -> dict[str, dict[str, int]]:
    """{channel: {reason: surveys}} for surveys skipped in the period. Most are skipped when the conversation
    closes and are never asked, so the period here is when the survey was created."""
    undated = replace(filters, since=None, until=None)
    cond = [S.c.state == SKIPPED, *undated.where()]
    if filters.since is not None:
        cond.append(S.c.created_at >= filters.since)
    if filters.until is not None:
        cond.append(S.c.created_at < filters.until)
    reason = func.coalesce(S.c.skip_reason, "unknown")
    q = select(S.c.channel, reason.label("reason"), func.count()).where(*cond).group_by(S.c.channel, reason)
    async with store.read() as conn:
        rows = (await conn.execute(q)).all()
    out: dict[str, dict[str, int]] = {}
    for channel, why, n in rows:
        out.setdefault(channel, {})[str(why)] = int(n)
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
