"""NPS arithmetic. Kept free of storage so reports and the demo compute it identically."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Category = Literal["promoter", "passive", "detractor"]
Z95 = 1.96


def classify(score: int) -> Category:
    """Promoters 9–10, passives 7–8, detractors 0–6."""
    if not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= 10:
        raise ValueError(f"NPS score must be an integer 0..10, got {score!r}")
    if score >= 9:
        return "promoter"
    if score >= 7:
        return "passive"
    return "detractor"


@dataclass(frozen=True, slots=True)
class NpsResult:
    promoters: int
    passives: int
    detractors: int
    nps: float | None
    margin: float | None

    @property
    def responses(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def low(self) -> float | None:
        return None if self.nps is None or self.margin is None else max(-100.0, self.nps - self.margin)

    @property
    def high(self) -> float | None:
        return None if self.nps is None or self.margin is None else min(100.0, self.nps + self.margin)

    def format(self) -> str:
        if self.nps is None:
            return "NPS n/a (no responses)"
        return f"NPS {self.nps:+.1f} ± {self.margin:.1f} (n={self.responses})"


def nps(promoters: int, passives: int, detractors: int) -> NpsResult:
    """NPS = %promoters − %detractors with the 95 % margin of error from the multinomial variance.

    Var(NPS as a fraction) = (p + d − (p − d)²) / n, so the margin is 1.96·100·sqrt of that.
    """
    if min(promoters, passives, detractors) < 0:
        raise ValueError("counts must not be negative")
    n = promoters + passives + detractors
    if n == 0:
        return NpsResult(promoters, passives, detractors, None, None)
    p = promoters / n
    d = detractors / n
    variance = max(0.0, p + d - (p - d) ** 2)
    margin = Z95 * 100 * math.sqrt(variance / n)
    return NpsResult(promoters, passives, detractors, 100 * (p - d), margin)


def nps_from_scores(scores: list[int]) -> NpsResult:
    counts = {"promoter": 0, "passive": 0, "detractor": 0}
    for s in scores:
        counts[classify(s)] += 1
    return nps(counts["promoter"], counts["passive"], counts["detractor"])


def difference_significant(a: NpsResult, b: NpsResult) -> bool | None:
    """Whether two independent NPS values differ at 95 %: |a−b| > 1.96·sqrt(SEa² + SEb²)."""
    if a.margin is None or b.margin is None or a.nps is None or b.nps is None:
        return None
    se = math.sqrt((a.margin / Z95) ** 2 + (b.margin / Z95) ** 2)
    if se == 0:
        return a.nps != b.nps
    return abs(a.nps - b.nps) > Z95 * se
