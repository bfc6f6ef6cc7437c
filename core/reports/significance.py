"""Is a difference between two groups of surveys (two variants, two survey kinds) more than chance? One verdict
shape for the response rate and the NPS, so every surface says "significant", "not significant" or "not enough
data" the same way."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from core.reports.summary import MIN_RESPONSES, Summary
from core.scoring import Z95, difference_significant, nps

NOT_ENOUGH = "not enough data"
NOTHING = Summary(nps(0, 0, 0), 0)  # a group no survey fell in


def proportions_differ(hits_a: int, total_a: int, hits_b: int, total_b: int) -> bool | None:
    """Two-proportion z-test at 95 %: |pa − pb| > 1.96·SE with SE = sqrt(p·(1 − p)·(1/na + 1/nb)) and p the
    pooled proportion (what the test assumes: no difference). None when either group is empty; False when both
    proportions are 0 or both 1 (no spread: the same rate)."""
    if total_a <= 0 or total_b <= 0:
        return None
    pooled = (hits_a + hits_b) / (total_a + total_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / total_a + 1 / total_b))
    if se == 0:
        return False
    return abs(hits_a / total_a - hits_b / total_b) > Z95 * se


@dataclass(frozen=True, slots=True)
class Verdict:
    """`difference` is a − b; `significant` is None when either side has too little data to judge."""

    difference: float | None
    significant: bool | None

    @property
    def verdict(self) -> str:
        if self.significant is None:
            return NOT_ENOUGH
        return "significant" if self.significant else "not significant"

    def as_dict(self, digits: int) -> dict[str, Any]:
        return {
            "difference": None if self.difference is None else round(self.difference, digits),
            "significant": self.significant,
            "verdict": self.verdict,
        }


def rate_verdict(a: Summary, b: Summary, minimum: int = MIN_RESPONSES) -> Verdict:
    """Response rates (responses of asked) compared; each side needs `minimum` surveys asked."""
    if a.response_rate is None or b.response_rate is None:
        return Verdict(None, None)
    difference = a.response_rate - b.response_rate
    if min(a.asked, b.asked) < minimum:
        return Verdict(difference, None)
    return Verdict(difference, proportions_differ(a.responses, a.asked, b.responses, b.asked))


def nps_verdict(a: Summary, b: Summary, minimum: int = MIN_RESPONSES) -> Verdict:
    """NPS compared with core.scoring.difference_significant; each side needs `minimum` responses (below that the
    normal approximation the test rests on does not hold)."""
    if a.result.nps is None or b.result.nps is None:
        return Verdict(None, None)
    difference = a.result.nps - b.result.nps
    if min(a.responses, b.responses) < minimum:
        return Verdict(difference, None)
    return Verdict(difference, difference_significant(a.result, b.result))
