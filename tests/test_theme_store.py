"""Themes stored with the comment, rebuilt after a taxonomy change, and reported as driver impact — on SQLite and
PostgreSQL. The report's figures are checked against a direct computation over the generated responses."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from core.profiles import ProfileSettings
from core.reports import Filters
from core.reports.analytics import comments
from core.reports.themes import theme_figures, theme_trend, unmatched_comments
from core.scoring import classify, nps_from_scores
from core.service import SurveyService
from core.store import Store
from core.store.tables import SurveyRow
from core.store.theme_tables import ResponseThemeRow
from core.survey import Policy, State
from core.themes.discovery import discover
from core.themes.matcher import ThemeMatcher
from core.themes.rebuild import count, rebuild
from core.types import Address, ConversationClosed, ScoreGiven, TextReceived

T = ResponseThemeRow.__table__
S = SurveyRow.__table__
TAXONOMY = {
    "billing": {"en": ["charge", "invoice", "refund"], "es": ["cobro", "factura", "reembolso"]},
    "speed": {"en": ["slow", "waiting time"], "es": ["lento", "tiempo de espera"]},
}
# What generated customers write: (text, locale); the themes follow from the taxonomy.
COMMENTS = [
    ("They charged me twice", "en"),
    ("Slow answers and a wrong invoice", "en"),
    ("The waiting time was fine", "en"),
    ("Password reset email never arrived", "en"),
    ("I never got the password reset email", "en"),
    ("Great people", "en"),
    ("Me cobraron dos veces", "es"),
    ("El tiempo de espera fue eterno", "es"),
    ("La app se cierra al subir una foto", "es"),
]


def profiles(taxonomy: dict) -> dict[str, ProfileSettings]:
    policy = Policy(brand="Acme", throttle=timedelta(0), locale="en")
    return {
        "acme": ProfileSettings("acme", policy, themes=ThemeMatcher.of(taxonomy)),
        "other": ProfileSettings("other", policy, themes=ThemeMatcher.of(taxonomy)),
    }


@dataclass(frozen=True)
class Made:
    id: int
    profile: str
    agent: str
    week: int
    score: int
    comment: str | None
    locale: str


async def generate(service: SurveyService, clock, n: int = 90, seed: int = 3) -> list[Made]:
    """`n` answered surveys over three weeks, two profiles, two agents; most with a comment."""
    rng = random.Random(seed)
    start = clock.now
    made = []
    for i in range(n):
        week = i % 3
        clock.now = start + timedelta(days=7 * week, minutes=i)
        profile, agent = ("acme", "other")[i % 5 == 0], ("ana", "ben")[i % 2]
        text, locale = rng.choice(COMMENTS)
        comment = text if rng.random() < 0.85 else None
        score = rng.choice(range(11))
        address = Address("memory", profile, f"c{i}", f"u{i}")
        out = await service.handle(ConversationClosed(address, agent=agent, team="care", locale=locale))
        await service.handle(ScoreGiven(address, score))
        if comment is not None:
            await service.handle(TextReceived(address, comment))
        assert out.survey is not None and out.survey.id is not None
        made.append(Made(out.survey.id, profile, agent, week, score, comment, locale))
    clock.now = start
    return made


async def stored(store: Store) -> set[tuple[int, str]]:
    async with store.read() as conn:
        return {(int(r[0]), r[1]) for r in (await conn.execute(select(T.c.survey_id, T.c.theme))).all()}


def expected_rows(made: list[Made], matcher: ThemeMatcher, profile: str | None = None) -> set[tuple[int, str]]:
    return {(m.id, theme) for m in made if profile in (None, m.profile) for theme in matcher.match(m.comment, m.locale)}


async def test_themes_are_stored_with_the_comment_in_its_transaction(store: Store, clock) -> None:
    service = SurveyService(store, profiles(TAXONOMY), clock)
    address = Address("memory", "acme", "c1", "u1")
    closed = await service.handle(ConversationClosed(address, agent="ana", team="care", locale="es"))
    await service.handle(ScoreGiven(address, 3))
    out = await service.handle(TextReceived(address, "Me cobraron y el tiempo de espera fue eterno"))
    assert out.survey is not None and out.survey.state is State.COMPLETED
    assert out.survey.themes == ("billing", "speed")  # what rules and events read at completion
    survey_id = closed.survey.id  # type: ignore[union-attr]
    async with store.read() as conn:
        rows = (await conn.execute(select(T).order_by(T.c.theme))).all()
    assert [(r.survey_id, r.theme, r.profile, r.channel, r.agent, r.team, r.locale, r.category) for r in rows] == [
        (survey_id, "billing", "acme", "memory", "ana", "care", "es", "detractor"),
        (survey_id, "speed", "acme", "memory", "ana", "care", "es", "detractor"),
    ]
    assert rows[0].asked_at == closed.survey.asked_at  # type: ignore[union-attr]
    loaded = await service.survey(survey_id, "acme", "memory")
    assert loaded is not None and loaded.themes == ("billing", "speed")
    # No comment, or a comment that mentions nothing: no rows; a profile without themes: no work.
    for i, text in enumerate([None, "all good"]):
        other = Address("memory", "acme", f"n{i}", f"n{i}")
        await service.handle(ConversationClosed(other, locale="en"))
        await service.handle(ScoreGiven(other, 9))
        if text:
            done = await service.handle(TextReceived(other, text))
            assert done.survey is not None and done.survey.themes == ()
    plain = SurveyService(store, {"acme": ProfileSettings("acme", Policy(throttle=timedelta(0)))}, clock)
    bare = Address("memory", "acme", "p1", "p1")
    await plain.handle(ConversationClosed(bare, locale="en"))
    await plain.handle(ScoreGiven(bare, 2))
    assert (await plain.handle(TextReceived(bare, "refund please"))).survey.themes == ()  # type: ignore[union-attr]
    assert {theme for _, theme in await stored(store)} == {"billing", "speed"} and len(await stored(store)) == 2
    # Erasing a response takes its themes with it.
    async with store.transaction() as conn:
        await conn.execute(delete(S).where(S.c.id == survey_id))
    assert await stored(store) == set()


async def test_driver_impact_matches_a_direct_computation(store: Store, clock) -> None:
    service = SurveyService(store, profiles(TAXONOMY), clock)
    made = await generate(service, clock)
    matcher = ThemeMatcher.of(TAXONOMY)
    assert await stored(store) == expected_rows(made, matcher)
    for filters, keep in [
        (Filters(), lambda m: True),
        (Filters(profile="acme", agent="ana"), lambda m: m.profile == "acme" and m.agent == "ana"),
        (Filters(since=clock.now + timedelta(days=7)), lambda m: m.week >= 1),
    ]:
        chosen = [m for m in made if keep(m)]
        figures = {f.theme: f for f in await theme_figures(store, filters, ["unused"])}
        assert figures["unused"].mentions.responses == 0 and figures["unused"].impact == pytest.approx(0.0)
        all_scores = [m.score for m in chosen]
        overall = nps_from_scores(all_scores)
        for theme in ("billing", "speed"):
            mentioning = [m for m in chosen if theme in matcher.match(m.comment, m.locale)]
            rest = [m.score for m in chosen if m not in mentioning]
            direct = nps_from_scores([m.score for m in mentioning])
            got = figures[theme]
            assert got.mentions == direct  # counts, NPS and margin of error
            assert got.impact == pytest.approx(overall.nps - nps_from_scores(rest).nps)  # type: ignore[operator]
            # the closed form: the mentions' weight times how far they sit from the rest
            weight = len(mentioning) / len(chosen)
            assert got.impact == pytest.approx(weight * (direct.nps - nps_from_scores(rest).nps))  # type: ignore[operator]
            for category in ("promoter", "passive", "detractor"):
                of = [m for m in chosen if m.comment is not None and classify(m.score) == category]
                hits = [m for m in mentioning if classify(m.score) == category]
                assert got.share(category) == pytest.approx(len(hits) / len(of))
            row = got.as_dict(30)
            assert row["mentions"] == len(mentioning) and row["nps"] == round(direct.nps, 2)  # type: ignore[arg-type]
        assert list(figures)[:2] == sorted(("billing", "speed"), key=lambda t: -figures[t].mentions.responses)
    trend = await theme_trend(store, Filters(profile="acme"), "week")
    for theme, points in trend.items():
        acme = [m for m in made if m.profile == "acme"]
        assert [p["mentions"] for p in points] == [
            len([m for m in acme if m.week == w and theme in matcher.match(m.comment, m.locale)]) for w in range(3)
        ]
        commented = [len([m for m in made if m.profile == "acme" and m.week == w and m.comment]) for w in range(3)]
        assert [p["share_of_comments"] for p in points] == [
            round(p["mentions"] / c, 4) for p, c in zip(points, commented, strict=True)
        ]


async def test_rebuild_reassigns_history_in_batches_and_twice_changes_nothing(store: Store, clock) -> None:
    service = SurveyService(store, profiles(TAXONOMY), clock)
    made = await generate(service, clock, n=40)
    changed = {
        "billing": {"en": ["charge"], "es": ["cobro"]},  # fewer keywords
        "access": {"en": ["password reset"], "es": ["foto"]},  # a new theme; speed is gone
    }
    matcher = ThemeMatcher.of(changed)
    total = await count(store, "acme")
    assert total == len([m for m in made if m.profile == "acme" and m.comment])
    seen: list[int] = []
    result = await rebuild(store, "acme", matcher, batch=7, progress=seen.append)
    assert sum(seen) == total == result.responses and len(seen) == -(-total // 7)
    old = ThemeMatcher.of(TAXONOMY)
    expected = expected_rows(made, matcher, "acme") | expected_rows(made, old, "other")
    assert await stored(store) == expected
    assert result.rows == len(expected_rows(made, matcher, "acme")) and result.dropped > 0
    again = await rebuild(store, "acme", matcher, batch=5)
    assert await stored(store) == expected and again.dropped == 0 and again.rows == result.rows
    listed = await comments(store, Filters(profile="acme"), theme="access", limit=100)
    assert {c["id"] for c in listed} == {i for i, t in expected_rows(made, matcher, "acme") if t == "access"}


async def test_unmatched_comments_feed_discovery(store: Store, clock) -> None:
    service = SurveyService(store, profiles(TAXONOMY), clock)
    made = await generate(service, clock, n=60)
    matcher = ThemeMatcher.of(TAXONOMY)
    rows, total = await unmatched_comments(store, Filters(profile="acme"), limit=1000)
    unmatched = [m for m in made if m.profile == "acme" and m.comment and not matcher.match(m.comment, m.locale)]
    assert total == len(unmatched) and sorted(rows) == sorted((m.comment, m.locale) for m in unmatched)
    assert rows[0] == (unmatched[-1].comment, unmatched[-1].locale)  # newest first
    few, _ = await unmatched_comments(store, Filters(profile="acme"), limit=3)
    assert len(few) == 3
    found = {f.phrase: f for f in discover(rows)}
    reset = [m for m in unmatched if "password reset" in (m.comment or "").lower()]
    assert found["password reset email"].comments == len(reset)
    assert all("password reset email" in e.lower() for e in found["password reset email"].examples)
    assert not any("invoice" in phrase or "cobr" in phrase for phrase in found)  # matched comments are not read
