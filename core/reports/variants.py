"""The variants experiment's report: per variant a profile (or one of its campaigns) tries, the surveys asked, the
responses, the response rate and the NPS ± margin; and each against the control (the first variant, or a named
one): the response-rate difference with a two-proportion z-test and the NPS difference with the two-sample test,
both at 95 %, or "not enough data" below the report's minimum.

Built on breakdown() by variant, so it reads whatever the summary reads. Surveys without a variant (asked before
the experiment, or outside it) take no part."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from core.reports.significance import NOTHING, Verdict, nps_verdict, rate_verdict
from core.reports.summary import MIN_RESPONSES, Filters, Summary, breakdown
from core.store import Store


class UnknownVariant(ValueError):
    """A control named that no survey got and the configuration does not list."""


@dataclass(frozen=True, slots=True)
class VariantFigures:
    name: str
    summary: Summary
    response_rate: Verdict | None  # against the control; None for the control itself
    nps: Verdict | None

    def as_dict(self, minimum: int) -> dict[str, Any]:
        versus = None
        if self.response_rate is not None and self.nps is not None:
            versus = {"response_rate": self.response_rate.as_dict(4), "nps": self.nps.as_dict(2)}
        return {"variant": self.name, **self.summary.as_dict(minimum), "versus_control": versus}


@dataclass(frozen=True, slots=True)
class VariantComparison:
    control: str | None  # None when no survey got a variant
    variants: tuple[VariantFigures, ...]

    def as_dict(self, minimum: int) -> dict[str, Any]:
        return {"control": self.control, "variants": [v.as_dict(minimum) for v in self.variants]}


async def compare_variants(
    store: Store,
    filters: Filters,
    *,
    control: str | None = None,
    order: Sequence[str] = (),
    minimum: int = MIN_RESPONSES,
) -> VariantComparison:
    """Every variant in `order` (the configured ones, shown even before any survey got them), then any other the
    surveys carry, by name. The control is `control`, else the first of them. A `variant` in the filters is
    ignored: the comparison needs them all."""
    found = {key: s for key, s in await breakdown(store, "variant", replace(filters, variant=None)) if key is not None}
    names = list(dict.fromkeys(order)) + sorted(k for k in found if k not in order)
    if control is not None and control not in names:
        raise UnknownVariant(f"no variant {control!r}; variants: {', '.join(names) or 'none yet'}")
    if not names:
        return VariantComparison(None, ())
    chosen = control if control is not None else names[0]
    base = found.get(chosen, NOTHING)
    rows = []
    for name in names:
        s = found.get(name, NOTHING)
        if name == chosen:
            rows.append(VariantFigures(name, s, None, None))
        else:
            rows.append(VariantFigures(name, s, rate_verdict(s, base, minimum), nps_verdict(s, base, minimum)))
    return VariantComparison(chosen, tuple(rows))
