"""How many closed conversations the profile's sample rate (core/sampling) let through: "sampled N of M closed
conversations". A conversation left out is a survey skipped as not_sampled, never asked, so it never lowers the
response rate (responses of surveys asked); this says how many there were.

Closed conversations are the transactional surveys asked in the period and those skipped, for any reason, when
they were created in it (as the delivery report counts skips). Relational surveys come from campaigns, whose
audience is sampled when the campaign runs, so a filter on the relational kind or on a campaign has no figure."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from core.reports.delivery import skipped_by_reason, total_skipped
from core.reports.summary import Filters, summary
from core.store import Store
from core.survey import Kind, SkipReason


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
    return Sampled(asked + sum(skipped.values()), skipped.get(str(SkipReason.NOT_SAMPLED), 0))
