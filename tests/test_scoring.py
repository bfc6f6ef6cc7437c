import math

import pytest

from core.scoring import classify, difference_significant, nps, nps_from_scores


@pytest.mark.parametrize(
    ("score", "category"),
    [(0, "detractor"), (6, "detractor"), (7, "passive"), (8, "passive"), (9, "promoter"), (10, "promoter")],
)
def test_classify_boundaries(score: int, category: str) -> None:
    assert classify(score) == category


@pytest.mark.parametrize("bad", [-1, 11, 7.5, True, "9", None])
def test_classify_rejects_non_scores(bad: object) -> None:
    with pytest.raises(ValueError):
        classify(bad)  # type: ignore[arg-type]


def test_nps_hand_computed_case() -> None:
    # 50 promoters, 30 passives, 20 detractors: p=.5, d=.2, NPS=30.
    # var = .5 + .2 - (.3)^2 = .61; margin = 1.96*100*sqrt(.61/100) = 15.308...
    r = nps(50, 30, 20)
    assert r.nps == pytest.approx(30.0)
    assert r.margin == pytest.approx(1.96 * 100 * math.sqrt(0.61 / 100))
    assert r.margin == pytest.approx(15.3081, abs=1e-3)
    assert r.low == pytest.approx(30 - 15.3081, abs=1e-3)
    assert r.responses == 100


def test_nps_second_hand_case() -> None:
    # 3 promoters, 1 passive, 6 detractors: p=.3, d=.6, NPS=-30; var=.9-.09=.81; margin=1.96*100*.9/sqrt(10)
    r = nps(3, 1, 6)
    assert r.nps == pytest.approx(-30.0)
    assert r.margin == pytest.approx(1.96 * 100 * 0.9 / math.sqrt(10))
    assert r.margin == pytest.approx(55.78, abs=0.01)
    assert r.low == pytest.approx(-85.78, abs=0.01)
    # 0/1/9: NPS -90, margin 1.96*100*sqrt(.09/10) = 18.59, so the interval is clipped at -100
    assert nps(0, 1, 9).margin == pytest.approx(18.594, abs=1e-3) and nps(0, 1, 9).low == -100.0


def test_no_spread_means_no_margin_rather_than_zero() -> None:
    """All answers in one category (every single answer too): the formula's ± 0 would claim certainty."""
    for counts, nps_value, reason in [
        ((10, 0, 0), 100.0, "all 10 responses are promoters"),
        ((0, 0, 4), -100.0, "all 4 responses are detractors"),
        ((0, 5, 0), 0.0, "all 5 responses are passives"),
        ((1, 0, 0), 100.0, "one response"),
        ((0, 0, 1), -100.0, "one response"),
    ]:
        r = nps(*counts)
        assert (r.nps, r.margin, r.low, r.high) == (nps_value, None, None, None)
        assert r.margin_reason is not None and r.margin_reason.startswith(reason)
        assert r.format() == f"NPS {nps_value:+.1f} ± n/a (n={sum(counts)})"
    # the smallest samples with any spread keep the formula's (wide) interval
    assert nps(1, 0, 1).margin == pytest.approx(1.96 * 100 * math.sqrt(1 / 2)) and nps(1, 0, 1).margin_reason is None
    assert nps(1, 1, 0).margin == pytest.approx(1.96 * 100 * math.sqrt(0.25 / 2))
    assert nps(0, 0, 0).margin_reason == "no responses"


def test_nps_without_responses() -> None:
    r = nps(0, 0, 0)
    assert r.nps is None and r.margin is None and r.format() == "NPS n/a (no responses)"


def test_nps_from_scores_matches_counts() -> None:
    assert nps_from_scores([10, 9, 8, 7, 6, 0]) == nps(2, 2, 2)


def test_difference_significance() -> None:
    assert difference_significant(nps(80, 10, 10), nps(20, 10, 70)) is True
    assert difference_significant(nps(5, 3, 2), nps(4, 3, 3)) is False
    assert difference_significant(nps(0, 0, 0), nps(1, 0, 0)) is None


def test_difference_uses_the_pooled_variance() -> None:
    """Under "no difference" both samples share one variance: it stays defined when either shows no spread."""
    # 1 promoter vs 1 detractor: pooled p = d = .5, var 1, SE = 100·sqrt(1·(1 + 1)) = 141; 200 < 1.96·141 = 277
    assert difference_significant(nps(1, 0, 0), nps(0, 0, 1)) is False
    # 40 vs 40 of them: SE = 100·sqrt(2/40) = 22.4; 200 > 43.8
    assert difference_significant(nps(40, 0, 0), nps(0, 0, 40)) is True
    # every answer a promoter in both: the same NPS, no spread at all
    assert difference_significant(nps(3, 0, 0), nps(7, 0, 0)) is False
    # 50/30/20 vs 35/30/35: pooled p .425, d .275, var .7 − .15² = .6775; SE = 100·sqrt(.6775·.02) = 11.64
    assert 1.96 * 100 * math.sqrt(0.6775 * 0.02) < 30
    assert difference_significant(nps(50, 30, 20), nps(35, 30, 35)) is True
    # 50/30/20 vs 40/30/30: pooled var .66, SE 11.49; 20 < 22.5
    assert difference_significant(nps(50, 30, 20), nps(40, 30, 30)) is False


def test_nps_third_hand_case_with_few_passives() -> None:
    # 30 promoters, 15 passives, 5 detractors (n=50): p=.6, d=.1, NPS=50; var=.7-.25=.45
    # margin = 1.96*100*sqrt(.45/50) = 196*0.0948683 = 18.5942
    r = nps(30, 15, 5)
    assert r.nps == pytest.approx(50.0)
    assert r.margin == pytest.approx(18.5942, abs=1e-4)
    assert (r.low, r.high) == (pytest.approx(31.4058, abs=1e-4), pytest.approx(68.5942, abs=1e-4))
    assert r.format() == "NPS +50.0 ± 18.6 (n=50)"


def test_margin_equals_the_formula_for_every_small_sample() -> None:
    for n in range(1, 13):
        for promoters in range(n + 1):
            for detractors in range(n - promoters + 1):
                p, d = promoters / n, detractors / n
                r = nps(promoters, n - promoters - detractors, detractors)
                assert r.nps == pytest.approx(100 * (p - d))
                if n in (promoters, detractors, n - promoters - detractors):
                    assert r.margin is None  # no spread: undefined, see test_no_spread_means_no_margin_rather_than_zero
                    continue
                expected = 1.96 * 100 * math.sqrt((p + d - (p - d) ** 2) / n)
                assert r.margin == pytest.approx(expected, abs=1e-9)
