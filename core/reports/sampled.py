"""How many closed conversations the profile's sample rate (core/sampling) let through: "sampled N of M closed
conversations". A conversation left out is a survey skipped as not_sampled, never asked, so it never lowers the
response rate (responses of surveys asked); this says how many there were.

Closed conversations are the transactional surveys asked in the period and those skipped, for any reason, when
they were created in it (as the delivery report counts skips), each once: a question asked and then skipped (a late
delivery failure: outside_window, unreachable; or the conversation reopened) is in both counts when it was created
and asked in the period, and is taken out of one. Relational surveys come from campaigns, whose
audience is sampled when the campaign runs, so a filter on the relational kind or on a campaign has no figure."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select

from core.reports.delivery import skipped_by_reason, total_skipped
from core.reports.planner import through_index, through_partial_index
from core.reports.summary import Filters, summary
from core.store import Store
from core.store.tables import ASKED_SKIPPED, SurveyRow
from core.survey import Kind, SkipReason

S = SurveyRow.__table__


@dataclass(frozen=True, slots=True)
class Sampled:
    closed: int
    sampled_out: int

    @property
    def sampled(self) -> int:
        return self.closed - self.sampled_out

    def as_dict(self) -> dict[str, Any]:
        return {"closed": self.closed, "sampled": self.sampled, "sampled_out": self.sampled_out}

    def line(self) -> str:
        return f"sampled {self.sampled} of {self.closed} closed conversations"


async def sampled_conversations(store: Store, filters: Filters) -> Sampled | None:
    """None where the filters select relational surveys only."""
    if filters.kind == Kind.RELATIONAL or filters.campaign is not None:
        return None
    closed = replace(filters, kind=str(Kind.TRANSACTIONAL))
    asked = (await summary(store, closed)).asked
    skipped = total_skipped(await skipped_by_reason(store, closed))
    twice = await asked_then_skipped(store, closed)
    return Sampled(asked + sum(skipped.values()) - twice, skipped.get(str(SkipReason.NOT_SAMPLED), 0))


async def asked_then_skipped(store: Store, filters: Filters) -> int:
    """Skipped surveys counted among the asked too: asked (asked_at) and created (created_at) in the period. Few
    rows (a skip after asking is rare), read from the surveys themselves: the rollups don't tell them apart."""
    # asked in the period; through the partial index of the surveys skipped after being asked
    rows_of = through_index(S, ASKED_SKIPPED)
    cond = filters.where(rows_of)
    if filters.since is not None:
        cond.append(rows_of.c.created_at >= filters.since)
    if filters.until is not None:
        cond.append(rows_of.c.created_at < filters.until)
    async with store.read() as conn, through_partial_index(conn):
        return int((await conn.execute(select(func.count()).select_from(rows_of).where(*cond))).scalar_one())
