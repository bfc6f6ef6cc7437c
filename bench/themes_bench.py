"""Themes bench, two parts, each next to a bare baseline in the same run.

1. Assignment cost per comment: `ThemeMatcher.match` on everyday comments in the seven languages, next to the
   parser bench's baseline (one Unicode normalisation pass) and to the score parser (`interpret`), which reads
   every reply on the same request path. `cold` clears the word cache first (a comment of words never seen
   before); `warm` is the usual case, comments repeating words already read.
2. The theme report over generated responses (1M by default; generated set-based, inside the database), next to a
   bare `GROUP BY category` on the surveys table, on SQLite and PostgreSQL.

    python -m bench.themes_bench                       # both parts, 1,000,000 responses, both backends
    python -m bench.themes_bench --rows 200000 --backends sqlite
    python -m bench.themes_bench --part match
"""

from __future__ import annotations

import argparse
import asyncio
import timeit
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import text

from bench.databases import empty_store
from bench.parser_bench import bare
from bench.report_bench import show, timed
from core.replies import interpret
from core.reports import Filters
from core.reports.analytics import comments
from core.reports.themes import theme_figures, theme_trend
from core.store import Store
from core.store.rollup_rebuild import rebuild
from core.themes.matcher import ThemeMatcher, key

TAXONOMY = {
    "billing": {"en": ["charge", "invoice", "refund", "billing"], "es": ["cobro", "factura", "reembolso"],
                "ca": ["cobrament", "factura"], "it": ["addebito", "fattura", "rimborso"],
                "pt": ["cobrança", "cobrar", "fatura"], "fr": ["prélèvement", "facture", "remboursement"],
                "de": ["Abbuchung", "Rechnung", "Erstattung"]},
    "wait": {"en": ["slow", "waiting time", "days"], "es": ["lento", "tiempo de espera", "días"],
             "ca": ["lent", "temps d'espera"], "it": ["lento", "tempo di attesa"], "pt": ["lento", "demorado"],
             "fr": ["lent", "délai"], "de": ["langsam", "Wartezeit", "Tage"]},
    "staff": {"en": ["friendly", "helpful", "agent"], "es": ["amable", "agente"], "ca": ["amable"],
              "it": ["gentile"], "pt": ["atendimento"], "fr": ["aimable"], "de": ["hilfreich", "freundlich"]},
}  # fmt: skip
COMMENTS = [
    ("en", "Three days to fix one invoice, and they charged me twice"),
    ("en", "Quick and friendly help, thanks"),
    ("es", "Tardaron tres días en arreglarlo y me cobraron dos veces"),
    ("es", "Me resolvieron el problema rápido, muy amables"),
    ("ca", "Tres dies per arreglar una factura"),
    ("it", "Tre giorni per una fattura, risposta lenta"),
    ("pt", "Demoraram três dias, atendimento excelente"),
    ("fr", "Le délai était trop long et la facture fausse"),
    ("de", "Drei Tage für eine Rechnung, aber sehr hilfreich"),
    ("en", "The app works fine"),
]
THEMES = ("billing", "wait", "staff", "app", "login", "delivery")


def best_us(fn: Callable[[], object], number: int, setup: Callable[[], object] | None = None) -> float:
    def run() -> None:
        if setup is not None:
            setup()
        fn()

    return min(timeit.repeat(run, number=number, repeat=5)) / number * 1e6


def match_part(number: int = 2000) -> list[tuple[str, float]]:
    matcher = ThemeMatcher.of(TAXONOMY)
    per = len(COMMENTS)
    results = [
        ("baseline: NFKC + casefold", best_us(lambda: [bare(t) for _, t in COMMENTS], number) / per),
        ("score parser (interpret)", best_us(lambda: [interpret(t) for _, t in COMMENTS], number) / per),
        ("theme match, warm", best_us(lambda: [matcher.match(t, loc) for loc, t in COMMENTS], number) / per),
        (
            "theme match, cold",
            best_us(lambda: [matcher.match(t, loc) for loc, t in COMMENTS], 1, key.cache_clear) / per,
        ),
    ]
    long = "Support took two days to answer and then charged me again. " * 70  # 4,000+ characters: read to the cap
    long_us = best_us(lambda: matcher.match(long, "en"), max(1, number // 40))
    results.append(("theme match, 4,000 characters, warm", long_us))
    return results


def theme_rows() -> str:
    """The statement giving the surveys' comments their themes: each theme on a fixed share of them, fewer for each
    later theme, spread by arithmetic on the survey id."""
    names = " UNION ALL ".join(f"SELECT {k} AS k, '{name}' AS theme" for k, name in enumerate(THEMES))
    return (
        "INSERT INTO response_themes (survey_id, theme, profile, channel, agent, team, locale, category, asked_at) "
        "SELECT s.id, n.theme, s.profile, s.channel, s.agent, s.team, s.locale, s.category, s.asked_at "
        f"FROM surveys AS s CROSS JOIN ({names}) AS n "
        "WHERE s.comment IS NOT NULL AND ((s.id * 7 + n.k * 13) % 100) < 30 - 4 * n.k"
    )


def _generate(dialect: str, rows: int) -> list[str]:
    """Statements that fill surveys with `rows` responses and response_themes with their themes, all in SQL. Values
    are spread by arithmetic on the row number (a planner may evaluate random() once per reference)."""
    if dialect == "postgresql":
        asked = "timestamptz '2025-01-01 00:00:00+00' + ((i * 7919) % 31536000) * interval '1 second'"
        series, prefix = f"FROM generate_series(1::bigint, {rows}) AS g(i)", ""
    else:
        asked = "strftime('%Y-%m-%d %H:%M:%S', '2025-01-01', '+' || ((i * 7919) % 31536000) || ' seconds') || '.000000'"
        prefix = f"WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {rows}) "
        series = "FROM g"
    answered = "CASE WHEN (i * 2654435761) % 1000 < 700 THEN 1 ELSE 0 END"  # 70 % answer
    score = "((i * 31) + (i / 7)) % 11"
    columns = ("profile, channel, conversation_id, user_id, case_id, agent, team, locale, state, score, category, "
               "comment, reasks, unparsed, extra, created_at, asked_at, scored_at, completed_at")  # fmt: skip
    fill = (
        f"INSERT INTO surveys ({columns}) {prefix}"
        "SELECT 'p' || (i % 5), CASE i % 3 WHEN 0 THEN 'telegram' WHEN 1 THEN 'slack' ELSE 'webhook' END, "
        "'c' || i, 'u' || i, 'c' || i, 'agent-' || (i % 40), 'team-' || (i % 6), "
        "CASE i % 7 WHEN 0 THEN 'en' WHEN 1 THEN 'es' WHEN 2 THEN 'ca' WHEN 3 THEN 'it' WHEN 4 THEN 'pt' "
        "WHEN 5 THEN 'fr' ELSE 'de' END, "
        "CASE WHEN a = 1 THEN 'completed' ELSE 'expired' END, CASE WHEN a = 1 THEN s END, "
        "CASE WHEN a = 0 THEN NULL WHEN s >= 9 THEN 'promoter' WHEN s >= 7 THEN 'passive' ELSE 'detractor' END, "
        "CASE WHEN a = 1 AND (i * 48271) % 100 < 60 THEN 'a comment' END, 0, '[]', '{}', t, t, "
        "CASE WHEN a = 1 THEN t END, CASE WHEN a = 1 THEN t END "
        f"FROM (SELECT i, {answered} AS a, {score} AS s, {asked} AS t {series}) AS x"
    )
    return [fill, theme_rows(), "ANALYZE"]


async def report_part(store: Store, rows: int) -> list[tuple[str, float]]:
    await store.migrate()
    async with store.transaction() as conn:
        for statement in _generate(store.dialect, rows):
            await conn.execute(text(statement))
        await rebuild(conn)  # the rows went in past the store's write paths: derive the report rollups from them
    async with store.read() as conn:
        counted = (await conn.execute(text("SELECT count(*) FROM surveys"))).scalar_one()
        mentions = (await conn.execute(text("SELECT count(*) FROM response_themes"))).scalar_one()
    assert counted == rows, f"generated {counted} responses, not {rows}"
    print(f"  {store.dialect}: {rows:,} responses, {mentions:,} theme mentions")
    quarter = Filters(profile="p1", since=datetime(2025, 4, 1, tzinfo=UTC), until=datetime(2025, 7, 1, tzinfo=UTC))

    async def bare_group_by() -> None:
        async with store.read() as conn:
            (await conn.execute(text("SELECT category, count(*) FROM surveys GROUP BY category"))).all()

    async def bare_themes() -> None:
        async with store.read() as conn:
            (await conn.execute(text("SELECT theme, count(*) FROM response_themes GROUP BY theme"))).all()

    return [
        ("bare GROUP BY category (surveys)", await timed(bare_group_by)),
        ("bare GROUP BY theme (response_themes)", await timed(bare_themes)),
        ("theme report (figures, impact, shares)", await timed(lambda: theme_figures(store))),
        ("theme weekly trend", await timed(lambda: theme_trend(store, Filters(), "week"))),
        ("theme report, one profile, one quarter", await timed(lambda: theme_figures(store, quarter))),
        ("50 latest comments of one theme", await timed(lambda: comments(store, Filters(), theme="login"))),
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["match", "report", "both"], default="both")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    args = parser.parse_args()
    if args.part in ("match", "both"):
        results = match_part()
        base = results[0][1]
        print("theme assignment per comment (best of 5):")
        for label, us in results:
            print(f"  {label:<38} {us:9.1f} µs   {us / base:6.1f}× the baseline")
    if args.part == "match":
        return
    for backend in args.backends:
        async with empty_store(backend, "tbench") as store:
            results = await report_part(store, args.rows)
        show(f"{backend}, {args.rows:,} responses (best of 3):", results, width=42)


if __name__ == "__main__":
    asyncio.run(main())
