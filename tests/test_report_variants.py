"""The variants experiment and the two survey kinds compared, on SQLite and PostgreSQL, against figures worked out
by hand: response rate with a two-proportion z-test, NPS with the two-sample test, "not enough data" below the
minimum."""

from __future__ import annotations

import pytest

from core.reports import Filters
from core.reports.kinds import compare_kinds
from core.reports.significance import NOT_ENOUGH, proportions_differ
from core.reports.variants import UnknownVariant, compare_variants
from core.store import Store
from tests.test_reports import START, insert

MINIMUM = 10


def surveys(asked: int, promoters: int, passives: int, detractors: int, **columns: str | None) -> list[dict]:
    """`asked` surveys with these columns, the first ones answered 10 (promoter), 8 (passive) or 0 (detractor)."""
    scores = [10] * promoters + [8] * passives + [0] * detractors
    assert len(scores) <= asked
    return [{"asked_at": START, "score": s, **columns} for s in scores + [None] * (asked - len(scores))]


@pytest.fixture
async def experiment(store: Store) -> Store:
    """acme's variants: a 30 of 40 answered (15 P, 9 Pa, 6 D: NPS +30); b 12 of 40 (2 P, 4 Pa, 6 D: NPS −33.3);
    c 3 of 5 (1 each: NPS 0); d 28 of 40 (14 P, 8 Pa, 6 D: NPS +28.6). Surveys without a variant, and another
    profile's "a", take no part."""
    await insert(
        store,
        *surveys(40, 15, 9, 6, variant="a"),
        *surveys(40, 2, 4, 6, variant="b"),
        *surveys(5, 1, 1, 1, variant="c"),
        *surveys(40, 14, 8, 6, variant="d"),
        *surveys(10, 0, 0, 10, variant=None),
        *surveys(10, 0, 0, 10, variant="a", profile="tapas"),
    )
    return store


def by_name(comparison) -> dict:
    return {v["variant"]: v for v in comparison.as_dict(MINIMUM)["variants"]}


async def test_each_variant_against_the_first(experiment: Store) -> None:
    cmp = await compare_variants(experiment, Filters(profile="acme"), minimum=MINIMUM)
    assert cmp.control == "a" and [v.name for v in cmp.variants] == ["a", "b", "c", "d"]
    rows = by_name(cmp)
    a, b, c, d = rows["a"], rows["b"], rows["c"], rows["d"]
    assert (a["asked"], a["responses"], a["response_rate"], a["nps"]) == (40, 30, 0.75, 30.0)
    assert a["versus_control"] is None
    assert (b["asked"], b["responses"], b["response_rate"], b["nps"]) == (40, 12, 0.3, -33.33)
    # rate: pooled p = 42/80, SE = sqrt(p(1−p)·2/40) = 0.1117; 0.45 > 1.96·SE = 0.219
    assert b["versus_control"]["response_rate"] == {"difference": -0.45, "significant": True, "verdict": "significant"}
    # NPS: pooled 17 P, 13 Pa, 12 D of 42, variance .6763; SE = 100·sqrt(.6763·(1/30 + 1/12)) = 28.09;
    # 63.3 > 1.96·SE = 55.1
    assert b["versus_control"]["nps"] == {"difference": -63.33, "significant": True, "verdict": "significant"}
    # d: 0.70 against 0.75, NPS 28.6 against 30: both well inside the noise
    assert d["versus_control"]["response_rate"] == {
        "difference": -0.05,
        "significant": False,
        "verdict": "not significant",
    }
    assert d["versus_control"]["nps"]["difference"] == pytest.approx(100 * 8 / 28 - 30, abs=0.01)
    assert d["versus_control"]["nps"]["verdict"] == "not significant"
    # c: 5 asked and 3 responses are below the minimum of 10: the difference is shown, the verdict withheld
    assert c["versus_control"]["response_rate"] == {"difference": -0.15, "significant": None, "verdict": NOT_ENOUGH}
    assert c["versus_control"]["nps"] == {"difference": -30.0, "significant": None, "verdict": NOT_ENOUGH}
    assert c["significant"] is False


async def test_a_named_or_configured_control_and_filters(experiment: Store) -> None:
    named = await compare_variants(experiment, Filters(profile="acme"), control="b", minimum=MINIMUM)
    rows = by_name(named)
    assert named.control == "b" and rows["b"]["versus_control"] is None
    assert rows["a"]["versus_control"]["nps"]["difference"] == 63.33
    configured = await compare_variants(experiment, Filters(profile="acme"), order=["d", "e", "a"], minimum=MINIMUM)
    assert configured.control == "d" and [v.name for v in configured.variants] == ["d", "e", "a", "b", "c"]
    e = by_name(configured)["e"]  # listed, but no survey got it yet
    assert (e["asked"], e["nps"], e["versus_control"]["nps"]["verdict"]) == (0, None, NOT_ENOUGH)
    assert e["versus_control"]["response_rate"]["difference"] is None
    with pytest.raises(UnknownVariant, match="no variant 'z'; variants: a, b, c, d"):
        await compare_variants(experiment, Filters(profile="acme"), control="z")
    # the variant filter is ignored (the comparison needs them all); other filters narrow every variant
    same = await compare_variants(experiment, Filters(profile="acme", variant="b"), minimum=MINIMUM)
    assert by_name(same) == by_name(await compare_variants(experiment, Filters(profile="acme"), minimum=MINIMUM))
    tapas = await compare_variants(experiment, Filters(profiles=("tapas",)), minimum=MINIMUM)
    assert [(v.name, v.summary.asked) for v in tapas.variants] == [("a", 10)]
    nobody = await compare_variants(experiment, Filters(profile="acme", channel="slack"))
    assert nobody.control is None and nobody.variants == ()


async def test_transactional_against_relational(store: Store) -> None:
    """Transactional: 30 of 40 answered, 15 P 9 Pa 6 D (NPS +30); relational (a campaign): 20 of 50, 4 P 6 Pa 10 D
    (NPS −30)."""
    await insert(
        store,
        *surveys(40, 15, 9, 6, kind="transactional"),
        *surveys(50, 4, 6, 10, kind="relational", campaign="q4"),
    )
    cmp = (await compare_kinds(store, Filters(profile="acme"), MINIMUM)).as_dict(MINIMUM)
    assert (cmp["transactional"]["nps"], cmp["transactional"]["asked"]) == (30.0, 40)
    assert (cmp["relational"]["nps"], cmp["relational"]["asked"]) == (-30.0, 50)
    # pooled 19 P, 15 Pa, 16 D of 50: variance .6964, SE = 100·sqrt(.6964·(1/30 + 1/20)) = 24.09; 60 > 47.2
    assert cmp["nps"] == {"difference": -60.0, "significant": True, "verdict": "significant"}
    # rate .40 against .75: pooled p = 50/90, 1.96·SE = 0.207 < 0.35
    assert cmp["response_rate"] == {"difference": -0.35, "significant": True, "verdict": "significant"}
    strict = (await compare_kinds(store, Filters(kind="relational"), 30)).as_dict(30)  # the kind filter is ignored
    assert strict["transactional"]["responses"] == 30 and strict["nps"]["verdict"] == NOT_ENOUGH
    only_q4 = (await compare_kinds(store, Filters(campaign="q4"), MINIMUM)).as_dict(MINIMUM)
    assert only_q4["transactional"]["asked"] == 0 and only_q4["nps"]["verdict"] == NOT_ENOUGH


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((30, 40), (12, 40), True),  # worked out above
        ((28, 40), (30, 40), False),
        ((0, 40), (0, 40), False),  # no spread: the same rate
        ((40, 40), (40, 40), False),
        ((1, 0), (3, 4), None),  # an empty group
        # 50 % against 60 % of 400 each: pooled .55, SE = sqrt(.2475·2/400) = .0352, 1.96·SE = .069 < .10
        ((200, 400), (240, 400), True),
        # the same rates of 100 each: SE = .0704, 1.96·SE = .138 > .10
        ((50, 100), (60, 100), False),
    ],
)
def test_two_proportion_z_test(a: tuple[int, int], b: tuple[int, int], expected: bool | None) -> None:
    assert proportions_differ(a[0], a[1], b[0], b[1]) is expected
