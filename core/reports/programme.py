"""The survey programme's figures next to the headline NPS, as the API, the dashboard and `npsbot report` show
them: the profile's benchmark (when the report covers one profile that has one) and how many closed conversations
the sample rate let through."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.profiles import ProfileSettings
from core.reports.benchmark import versus_benchmark
from core.reports.sampled import sampled_conversations
from core.reports.summary import MIN_RESPONSES, Filters, Summary
from core.reports.variants import VariantComparison, compare_variants
from core.store import Store


def one_profile(profile: str | None, visible: Sequence[str]) -> str | None:
    """The profile a report covers: the one filtered on, else the caller's only one; None for several."""
    if profile is not None:
        return profile
    return visible[0] if len(visible) == 1 else None


def benchmark_of(profile: str | None, visible: Sequence[str], benchmarks: Mapping[str, float | None]) -> float | None:
    chosen = one_profile(profile, visible)
    return None if chosen is None else benchmarks.get(chosen)


def benchmarks(settings: Mapping[str, ProfileSettings]) -> dict[str, float | None]:
    return {name: p.benchmark for name, p in settings.items()}


def variant_order(settings: ProfileSettings | None, campaign: str | None) -> list[str]:
    """The configured variants' names in their order: the campaign's, else the profile's (the control is the
    first); an unconfigured profile (a report over an old database) has none."""
    if settings is None:
        return []
    policy = settings.policy
    listed = policy.campaign_variants.get(campaign, ()) if campaign is not None else policy.variants
    return [v.name for v in listed]


async def programme(store: Store, filters: Filters, total: Summary, benchmark: float | None) -> dict[str, Any]:
    """{benchmark: {benchmark, difference, significant} | None, sampling: {closed, sampled, sampled_out} | None}."""
    sampled = await sampled_conversations(store, filters)
    return {
        "benchmark": versus_benchmark(total.result, benchmark),
        "sampling": None if sampled is None else sampled.as_dict(),
    }


async def profile_variants(
    store: Store,
    filters: Filters,
    settings: ProfileSettings | None,
    *,
    control: str | None = None,
    minimum: int = MIN_RESPONSES,
) -> VariantComparison:
    """One profile's variants (`filters.profile`), the configured ones first: the control is the first of them."""
    order = variant_order(settings, filters.campaign)
    return await compare_variants(store, filters, control=control, order=order, minimum=minimum)
