"""The demo's twelve weeks: a weekly trend point per week, a complaint that rises and an agent who improves in the
story it plays, and exactly one escalation, for the alert its support leads miss — all checked by the demo itself
against what the simulated customers did."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from bots.demo import run_demo
from bots.demo_story import DOUBLE_CHARGE, WEEKS, by_week, make_plans, weights
from tests.conftest import run_sync


def test_the_story_in_the_plans() -> None:
    plans = make_plans(84, random.Random(11))
    weeks = by_week(plans)
    assert [len(w) for w in weeks] == [7] * WEEKS  # spread evenly, oldest first
    charged = [sum(p.steps[-1:] == [DOUBLE_CHARGE[p.locale]] for p in w) for w in weeks]
    assert sum(charged[:4]) < sum(charged[-4:])  # the double-charge complaint rises

    def mean(w: list[float]) -> float:
        return sum(s * x for s, x in enumerate(w)) / sum(w)

    assert mean(weights("Dmitri", 0)) + 3 < mean(weights("Dmitri", WEEKS - 1))  # he improves
    assert weights("Carla", 0) == weights("Carla", WEEKS - 1)  # the others stay as they are


def test_the_demo_spreads_over_twelve_weeks_and_escalates_once(tmp_path: Path, capsys) -> None:
    result = run_sync(run_demo(conversations=24, seed=5, database_url=f"sqlite:///{tmp_path / 'demo.db'}"))
    out = " ".join(capsys.readouterr().out.split())
    assert result["ok"] is True, out
    periods = [datetime.fromisoformat(p).replace(tzinfo=UTC) for p, _ in result["weekly"]]
    assert len(periods) == WEEKS and all(b - a == timedelta(weeks=1) for a, b in pairwise(periods))
    assert datetime.now(UTC) - periods[-1] < timedelta(weeks=2)  # the last of the twelve weeks is recent
    sla = result["sla"]
    assert result["escalations"] == sla["escalations"] == sla["claim_breaches"] == 1
    assert sla["claimed"] == sla["detractors"] == sla["with_sla"] == result["expected_alerts"]
    assert "⏰ Escalated: nobody claimed this detractor within 2h." in out
    assert "the story: a rising complaint, an agent who improves" in out
    assert "1 escalation as expected for the alert the leads missed" in out
