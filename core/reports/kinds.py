"""Transactional against relational NPS: the two survey kinds measure different things (the last conversation, the
whole relationship), so a report shows both and says whether they differ by more than chance."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from core.reports.significance import NOTHING, Verdict, nps_verdict, rate_verdict
from core.reports.summary import MIN_RESPONSES, Filters, Summary, breakdown
from core.store import Store
from core.survey import Kind


@dataclass(frozen=True, slots=True)
class KindComparison:
    transactional: Summary
    relational: Summary
    response_rate: Verdict  # relational − transactional
    nps: Verdict  # relational − transactional

    def as_dict(self, minimum: int) -> dict[str, Any]:
        return {
            "transactional": self.transactional.as_dict(minimum),
            "relational": self.relational.as_dict(minimum),
            "difference_of": "relational - transactional",
            "response_rate": self.response_rate.as_dict(4),
            "nps": self.nps.as_dict(2),
        }


async def compare_kinds(store: Store, filters: Filters, minimum: int = MIN_RESPONSES) -> KindComparison:
    """Both kinds under the same filters (a `kind` in them is ignored: the comparison needs both); each side
    needs `minimum` responses (surveys asked, for the rate) for a verdict."""
    found = dict(await breakdown(store, "kind", replace(filters, kind=None)))
    transactional = found.get(str(Kind.TRANSACTIONAL), NOTHING)
    relational = found.get(str(Kind.RELATIONAL), NOTHING)
    return KindComparison(
        transactional,
        relational,
        rate_verdict(relational, transactional, minimum),
        nps_verdict(relational, transactional, minimum),
    )
