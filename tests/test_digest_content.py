"""The digest's figures against the hand-computed weeks of tests/digest_world.py on SQLite and PostgreSQL, its text
in the seven languages, and the chart."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from core.digest import DigestFigures, TrendPoint, gather, render
from core.digest_chart import trend_png
from core.digest_texts import TEXTS, number, percent
from core.messages import LOCALES
from core.store import Store
from tests.digest_world import SINCE, UNTIL, seed

UTC = ZoneInfo("UTC")


async def figures(store: Store, benchmark: float | None = 30.0) -> DigestFigures:
    return await gather(store, "shop", SINCE, UNTIL, UNTIL, benchmark=benchmark, movers=3, min_responses=3)


async def test_figures_match_the_hand_computed_weeks(store: Store, clock) -> None:
    await seed(store, clock)
    f = await figures(store)
    now, before = f.current, f.comparison.previous
    assert (now.result.promoters, now.result.passives, now.result.detractors, now.asked) == (5, 1, 3, 11)
    assert now.result.nps == pytest.approx(22.222, abs=1e-3)
    assert now.result.margin == pytest.approx(59.861, abs=1e-3)
    assert now.response_rate == pytest.approx(9 / 11)
    assert (before.result.promoters, before.result.passives, before.result.detractors) == (4, 2, 3)
    assert f.comparison.change == pytest.approx(11.111, abs=1e-3)
    assert f.comparison.significant is False  # below 30 responses a change is never called significant
    assert (f.open_detractors, f.overdue_detractors) == (5, 2)
    for dim in ("team", "agent"):
        movers = [(m.name, round(m.change, 2), m.direction, m.responses) for m in f.movers[dim]]
        names = ("blue", "red") if dim == "team" else ("ben", "ana")
        assert movers == [(names[0], -100.0, "down", 4), (names[1], 75.0, "up", 4)]  # green: 1 response a week
    assert f.benchmark == {"benchmark": 30.0, "difference": pytest.approx(-7.78, abs=0.01), "significant": False}
    assert f.bucket == "week"
    assert [(p.period, round(p.nps or 0, 2), p.responses) for p in f.trend] == [
        ("2026-03-02", 11.11, 9),
        ("2026-03-09", 22.22, 9),
    ]
    data = f.as_dict()
    assert data["open_detractors"] == 5 and data["current"]["asked"] == 11 and data["change"] == 11.11
    assert data["movers"]["team"][0] == {"name": "blue", "change": -100.0, "direction": "down", "nps": -25.0,
                                         "responses": 4}  # fmt: skip


async def test_an_empty_period_says_so_and_draws_nothing(store: Store) -> None:
    f = await figures(store, benchmark=None)
    assert f.current.responses == 0 and f.comparison.change is None and f.trend == ()
    assert f.movers == {"team": (), "agent": ()} and f.benchmark is None
    subject, text = render(f, "Shop", "en", UTC)
    assert "NPS: no responses in this period" in text and "nothing to compare" in text
    assert "nobody was asked" in text and subject == "Shop NPS digest, 2026-03-09 – 2026-03-16"
    assert trend_png(f.trend, "en") is None


async def test_english_text_names_every_figure(store: Store, clock) -> None:
    await seed(store, clock)
    subject, text = render(await figures(store), "Shop", "en", UTC)
    assert subject == "Shop NPS digest, 2026-03-09 – 2026-03-16"
    lines = text.split("\n")
    assert lines[0] == "NPS digest for Shop: 2026-03-09 – 2026-03-16"
    assert "NPS +22.2 ± 59.9 (9 responses)" in lines
    assert "Change against the previous period: +11.1 (not significant)" in lines
    assert "Response rate: 81.8% (9 of 11 asked)" in lines
    assert "Open detractors: 5, of which overdue: 2" in lines
    assert "Against the benchmark +30.0: −7.8 (not significant)" in lines
    assert "  blue: −100.0 ▼ (now −25.0, 4 responses)" in lines
    assert "  red: +75.0 ▲ (now +50.0, 4 responses)" in lines
    assert "  ben: −100.0 ▼ (now −25.0, 4 responses)" in lines


EXPECTED = {  # the NPS line and the detractors line, as each language writes them
    "en": ("NPS +22.2 ± 59.9 (9 responses)", "Open detractors: 5, of which overdue: 2", "81.8%"),
    "es": ("NPS +22,2 ± 59,9 (9 respuestas)", "Detractores abiertos: 5, de ellos vencidos: 2", "81,8\u00a0%"),
    "ca": ("NPS +22,2 ± 59,9 (9 respostes)", "Detractors oberts: 5, dels quals vençuts: 2", "81,8\u00a0%"),
    "it": ("NPS +22,2 ± 59,9 (9 risposte)", "Detrattori aperti: 5, di cui scaduti: 2", "81,8\u00a0%"),
    "pt": ("NPS +22,2 ± 59,9 (9 respostas)", "Detratores em aberto: 5, dos quais em atraso: 2", "81,8\u00a0%"),
    "fr": ("NPS +22,2 ± 59,9 (9 réponses)", "Détracteurs ouverts : 5, dont en retard : 2", "81,8\u00a0%"),
    "de": ("NPS +22,2 ± 59,9 (9 Antworten)", "Offene Kritiker: 5, davon überfällig: 2", "81,8\u00a0%"),
}


async def test_text_in_each_language(store: Store, clock) -> None:
    await seed(store, clock)
    f = await figures(store)
    texts = {}
    for locale in LOCALES:
        subject, text = render(f, "Shop", locale, UTC)
        headline, detractors, rate = EXPECTED[locale]
        assert headline in text.split("\n") and detractors in text.split("\n") and rate in text, locale
        assert "Shop" in subject and "2026-03-09" in subject
        texts[locale] = text
    assert len(set(texts.values())) == len(LOCALES)  # every language its own words
    assert render(f, "Shop", "pt-BR", UTC) == render(f, "Shop", "pt", UTC)
    assert render(f, "Shop", "xx", UTC) == render(f, "Shop", "en", UTC)


def test_every_language_has_every_label_and_numbers_follow_it() -> None:
    assert set(TEXTS) == set(LOCALES)
    for texts in TEXTS.values():
        assert texts.keys() == TEXTS["en"].keys()
    assert number(-3.25, "de", signed=True) == "−3,2" and number(0.04, "en", signed=True) == "+0.0"
    assert number(12.5, "fr") == "12,5" and percent(0.5, "en") == "50.0%" and percent(0.5, "es") == "50,0\u00a0%"


def test_the_chart_is_a_small_png_with_the_band_and_benchmark() -> None:
    points = [TrendPoint(f"2026-01-{d:02d}", 10.0 + d, d - 20.0, d + 40.0, 40) for d in range(5, 33, 7)]
    points.append(TrendPoint("2026-02-02", None, None, None, 0))  # a week without responses is left out
    png = trend_png(points, "de", "week", benchmark=25.0)
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) < 100_000
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (640, 320)
    plain = trend_png(points, "de", "week")
    assert plain is not None and plain != png  # the benchmark line is drawn
