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
    def margin_reason(self) -> str | None:
        """Why there is no margin of error, in words for a report; None when there is one."""
        if self.margin is not None:
            return None
        n = self.responses
        if n == 0:
            return "no responses"
        if n == 1:
            return "one response: the spread of answers cannot be estimated"
        mix = {"promoters": self.promoters, "passives": self.passives, "detractors": self.detractors}
        [name] = [k for k, v in mix.items() if v]
        return f"all {n} responses are {name}: no spread of answers to estimate the margin from"

    @property
    def low(self) -> float | None:
        return None if self.nps is None or self.margin is None else max(-100.0, self.nps - self.margin)

    @property
    def high(self) -> float | None:
        return None if self.nps is None or self.margin is None else min(100.0, self.nps + self.margin)

    def format(self) -> str:
        if self.nps is None:
            return "NPS n/a (no responses)"
        margin = "n/a" if self.margin is None else f"{self.margin:.1f}"
        return f"NPS {self.nps:+.1f} ± {margin} (n={self.responses})"


def _variance(promoters: int, passives: int, detractors: int) -> float:
    """Variance of one answer scored +1 / 0 / −1 (promoter / passive / detractor): p + d − (p − d)²."""
    n = promoters + passives + detractors
    p, d = promoters / n, detractors / n
    return max(0.0, p + d - (p - d) ** 2)


def nps(promoters: int, passives: int, detractors: int) -> NpsResult:
    """NPS = %promoters − %detractors with the 95 % margin of error from the multinomial variance.

    Var(NPS as a fraction) = (p + d − (p − d)²) / n, so the margin is 1.96·100·sqrt of that (the normal
    approximation). The margin is undefined (None, with `margin_reason`) when every response falls in one
    category, which includes every single response: the sample then shows no spread at all, and the formula would
    give ± 0 — certainty — from answers that merely have not met the other categories yet (one promoter, or five,
    says little about the next customer). Small samples with some spread get the formula's interval, which is
    wide; the report's `min_responses` flag marks them not significant.
    """
    if min(promoters, passives, detractors) < 0:
        raise ValueError("counts must not be negative")
    n = promoters + passives + detractors
    if n == 0:
        return NpsResult(promoters, passives, detractors, None, None)
    score = 100 * (promoters / n - detractors / n)
    if max(promoters, passives, detractors) == n:
        return NpsResult(promoters, passives, detractors, score, None)
    margin = Z95 * 100 * math.sqrt(_variance(promoters, passives, detractors) / n)
    return NpsResult(promoters, passives, detractors, score, margin)


def nps_from_scores(scores: list[int]) -> NpsResult:
    counts = {"promoter": 0, "passive": 0, "detractor": 0}
    for s in scores:
        counts[classify(s)] += 1
    return nps(counts["promoter"], counts["passive"], counts["detractor"])


def difference_significant(a: NpsResult, b: NpsResult) -> bool | None:
    """Whether two independent NPS values differ at 95 %: |a − b| > 1.96·SE, a two-sample z-test.

    SE comes from the variance of both samples pooled (what the test assumes: no difference), times
    sqrt(1/na + 1/nb). Pooling keeps the test defined when one sample shows no spread (all promoters), where the
    margin of error is not, and a single answer against a single answer is never a significant change.
    None when either sample has no responses.
    """
    if a.nps is None or b.nps is None:
        return None
    pooled = _variance(a.promoters + b.promoters, a.passives + b.passives, a.detractors + b.detractors)
    se = 100 * math.sqrt(pooled * (1 / a.responses + 1 / b.responses))
    if se == 0:
        return False  # every answer in both samples is in the same category: the same NPS
    return abs(a.nps - b.nps) > Z95 * se
