"""Retention bench: one full retention pass over generated surveys (1M by default) and the outbox rows, delivery
keys, journal rows and contacts they leave, next to a bare baseline in the same run: the same rows anonymised and
deleted by one set-based UPDATE or DELETE each, the least the database must do. On SQLite and PostgreSQL.

    python -m bench.retention_bench                              # 1,000,000 surveys on both backends
    python -m bench.retention_bench --rows 20000 --backends sqlite

The scenario is the first pass after an operator turns retention on: two years of surveys over five profiles, each
keeping comments 180 days and personal fields 365, with the default pruning (sent messages 7 days, dead letters,
delivery keys and requests given up on 30 days). Everything is generated set-based inside the database; the pass
and the baseline run on two identical copies, and their end states are compared (they must match).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import String, Text, and_, case, cast, delete, exists, func, or_, select, text, update

from bench.databases import PG_ADMIN, admin, generated
from core.profiles import ProfileSettings
from core.retention import ANONYMOUS, Pruning, Retention
from core.retention_pass import RetentionPass
from core.store import Store
from core.store.tables import ContactRow, InboundJournalRow, InboundKeyRow, OutboxRow, SurveyRow, WebSessionRow
from core.survey import OPEN_STATES

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=730)  # surveys created evenly over the two years before NOW
PROFILES = tuple(f"p{n}" for n in range(5))
RETENTION = Retention(comments_days=180, personal_days=365)
PRUNING = Pruning()  # the defaults

S = SurveyRow.__table__
OB = OutboxRow.__table__
K = InboundKeyRow.__table__
J = InboundJournalRow.__table__
C = ContactRow.__table__
W = WebSessionRow.__table__
OPEN = [str(s) for s in OPEN_STATES]


# ---- the data ---------------------------------------------------------------------------------------------------


def statements(dialect: str, rows: int) -> list[str]:
    """INSERT … SELECT statements that fill every table the pass reads, all in SQL. Values are spread by arithmetic
    on the row number; surveys are created in id order, as they are in production.

    Per survey: 70 % answered, 60 % of those with a comment, 1 in 97 with a reply kept as text, half with a name,
    a quarter with metadata; the newest 0.5 % unanswered are still open. A customer is surveyed three times within
    a few hours (1 in 50 opted out, 1 in 101 unreachable). Outbox: every survey's question (1 in 200 dead, some of
    the open ones still pending) and every commented detractor's alert. Delivery keys: every close and every score.
    1 in 1,000 surveys left a journaled request given up on."""
    span = int(SPAN.total_seconds())
    g = generated(dialect, rows, NOW - SPAN)
    prefix, source, sep, at, js = g.prefix, g.source, g.sep, g.at, g.js
    answered = "CASE WHEN (i * 2654435761) % 1000 < 700 THEN 1 ELSE 0 END"
    still_open = f"CASE WHEN i > {rows - rows // 200} AND {answered} = 0 THEN 1 ELSE 0 END"
    numbers = (
        "SELECT i, 'p' || (i % 5) AS p, CASE i % 3 WHEN 0 THEN 'telegram' WHEN 1 THEN 'slack' ELSE 'webhook' END AS ch,"
        f" i / 45 * 15 + i % 15 AS u, {answered} AS a, {still_open} AS o, ((i * 31) + (i / 7)) % 11 AS s,"
        f" i * {span} / {rows} AS t FROM {source}"
    )
    unparsed = js("CASE WHEN a = 1 AND i % 97 = 0 THEN '[\"maybe later\"]' ELSE '[]' END")
    metadata = _object({"plan": "'pro'", "email": "'c' || i || '@example.org'"})
    extra = js(f"CASE WHEN i % 4 = 0 THEN {metadata} ELSE '{{}}' END")
    surveys = (
        "INSERT INTO surveys (profile, channel, conversation_id, user_id, case_id, case_key, agent, team, locale, "
        "customer_name, state, score, category, comment, reasks, unparsed, extra, question_ref, created_at, asked_at, "
        f"scored_at, completed_at) {prefix}"
        f"SELECT p, ch, 'c' || i, 'u' || u, 'c' || i, p || {sep} || ch || {sep} || 'c' || i, 'agent-' || (i % 40), "
        "'team-' || (i % 6), 'en', CASE WHEN i % 2 = 0 THEN 'Customer ' || u END, "
        "CASE WHEN o = 1 THEN 'asked' WHEN a = 1 THEN 'completed' ELSE 'expired' END, CASE WHEN a = 1 THEN s END, "
        "CASE WHEN a = 0 THEN NULL WHEN s >= 9 THEN 'promoter' WHEN s >= 7 THEN 'passive' ELSE 'detractor' END, "
        "CASE WHEN a = 1 AND (i * 48271) % 100 < 60 THEN 'Three days to fix invoice ' || i || ', call me back' END, "
        f"0, {unparsed}, {extra}, 'q' || i, {at('t')}, {at('t + 60')}, CASE WHEN a = 1 THEN {at('t + 600')} END, "
        f"CASE WHEN a = 1 THEN {at('t + 900')} END "
        f"FROM ({numbers}) AS x"
    )
    contacts = (
        "INSERT INTO contacts (profile, channel, user_id, locale, name, opted_out_at, unreachable_at, "
        "last_surveyed_at, last_inbound_at) "
        "SELECT profile, channel, user_id, 'en', max(customer_name), "
        "CASE WHEN CAST(substr(user_id, 2) AS INTEGER) % 50 = 0 THEN max(created_at) END, "
        "CASE WHEN CAST(substr(user_id, 2) AS INTEGER) % 101 = 0 THEN max(created_at) END, "
        "max(created_at), max(scored_at) FROM surveys GROUP BY profile, channel, user_id"
    )
    columns = (
        "INSERT INTO outbox (profile, channel, kind, survey_id, ordering_key, target, payload, status, attempts, "
        "next_attempt_at, created_at, sent_at) "
    )
    target = js(_object({"conversation_id": "conversation_id", "user_id": "user_id"}))
    question = js(_object({"text": "'How likely are you to recommend Acme to a friend?'"}))
    outbox = (
        f"{columns}SELECT profile, channel, 'ask_score', id, profile || ':' || channel || ':' || conversation_id, "
        f"{target}, {question}, "
        "CASE WHEN state = 'asked' AND id % 3 = 0 THEN 'pending' WHEN id % 200 = 0 THEN 'dead' ELSE 'sent' END, "
        "1, created_at, created_at, CASE WHEN state <> 'asked' OR id % 3 <> 0 THEN created_at END "
        "FROM surveys ORDER BY id"
    )
    support = js(_object({"destination": "'support'"}))
    alert = js(
        _object({"score": "CAST(score AS VARCHAR)", "comment": "comment", "name": "coalesce(customer_name, '')"})
    )
    alerts = (
        f"{columns}SELECT profile, 'slack', 'detractor_alert', id, profile || ':slack:support', {support}, {alert}, "
        "'sent', 1, completed_at, completed_at, completed_at "
        "FROM surveys WHERE category = 'detractor' AND comment IS NOT NULL ORDER BY id"
    )
    keys = (
        "INSERT INTO inbound_keys (key, received_at, survey_id) "
        "SELECT 'memory:' || profile || ':close-' || id, created_at, id FROM surveys "
        "UNION ALL SELECT 'memory:' || profile || ':score-' || id, scored_at, NULL FROM surveys "
        "WHERE scored_at IS NOT NULL"
    )
    body = _object({"text": "coalesce(comment, 'nine')"})
    empty = js("'{}'")
    journal = (
        "INSERT INTO inbound_journal (channel, profile, body, headers, received_at, status, attempts, last_error) "
        f"SELECT channel, profile, {body}, {empty}, created_at, 'dead', 8, 'gave up' "
        "FROM surveys WHERE id % 1000 = 0"
    )
    return [surveys, contacts, outbox, alerts, keys, journal]


def _object(fields: dict[str, str]) -> str:
    """SQL building a JSON object's text from SQL expressions of text that hold no quote or backslash."""
    members = " || ', ' || ".join(f"'\"{name}\": \"' || {value} || '\"'" for name, value in fields.items())
    return f"'{{' || {members} || '}}'"


async def generate(store: Store, rows: int) -> None:
    """A migrated database holding `rows` surveys and what goes with them, analysed (and vacuumed on PostgreSQL)."""
    await store.migrate()
    async with store.transaction() as conn:
        for statement in statements(store.dialect, rows):
            await conn.exec_driver_sql(statement)
        if store.is_sqlite:
            await conn.execute(text("ANALYZE"))
    if not store.is_sqlite:
        async with store.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))


# ---- the two ways -----------------------------------------------------------------------------------------------


def profiles() -> dict[str, ProfileSettings]:
    return {name: ProfileSettings(name=name, retention=RETENTION) for name in PROFILES}


async def retention_pass(store: Store) -> tuple[float, dict[str, int]]:
    """The real pass, as the worker runs it when due: seconds, and what it removed."""
    job = RetentionPass(store, profiles(), PRUNING, lambda: NOW, owner="retention-bench")
    t0 = time.perf_counter()
    counts = await job.run_due(force=True)
    seconds = time.perf_counter() - t0
    assert counts is not None, "the pass did not run"
    return seconds, counts


def _ended_before(cutoff: datetime) -> Any:
    return and_(
        S.c.created_at < cutoff, S.c.state.not_in(OPEN), func.coalesce(S.c.completed_at, S.c.created_at) < cutoff
    )


async def baseline(store: Store) -> float:
    """The same rows, one set-based statement each, in one transaction: the least work the database can do."""
    personal, comments = RETENTION.personal_cutoff(NOW), RETENTION.comments_cutoff(NOW)
    assert personal is not None and comments is not None
    quiet = min(personal, NOW - profiles()[PROFILES[0]].policy.throttle)  # as the pass keeps contacts
    has_comment = or_(S.c.comment.is_not(None), cast(S.c.unparsed, Text) != "[]")
    holds_personal = or_(S.c.user_id != ANONYMOUS, S.c.customer_name.is_not(None))
    to_anonymise = and_(S.c.profile.in_(PROFILES), _ended_before(personal), holds_personal)
    to_clear = and_(S.c.profile.in_(PROFILES), _ended_before(comments), has_comment)
    touched = exists().where(S.c.id == OB.c.survey_id, or_(to_anonymise, to_clear))
    still_open = exists().where(S.c.id == OB.c.survey_id, S.c.state.in_(OPEN))
    contact_quiet = and_(
        C.c.profile.in_(PROFILES),
        C.c.last_surveyed_at < quiet,
        or_(C.c.last_inbound_at.is_(None), C.c.last_inbound_at < quiet),
    )
    work = [
        delete(OB).where(
            or_(
                and_(OB.c.status.in_(("sent", "dead")), touched),
                and_(OB.c.status == "sent", OB.c.created_at < NOW - PRUNING.sent_messages, ~still_open),
                and_(OB.c.status == "dead", OB.c.created_at < NOW - PRUNING.dead_letters),
            )
        ),
        update(S)
        .where(to_anonymise)
        .values(
            user_id=ANONYMOUS,
            conversation_id=ANONYMOUS,
            thread=None,
            case_id=ANONYMOUS,
            case_key=case(
                (
                    S.c.case_key.is_not(None),
                    S.c.profile + "\x1f" + S.c.channel + f"\x1f{ANONYMOUS}:" + cast(S.c.id, String),
                )
            ),
            customer_name=None,
            question_ref=None,
            extra={},
        ),
        update(S).where(to_clear).values(comment=None, unparsed=[]),
        delete(C).where(contact_quiet, C.c.opted_out_at.is_(None), C.c.unreachable_at.is_(None)),
        update(C).where(contact_quiet, C.c.name.is_not(None)).values(name=None),
        delete(K).where(K.c.received_at < NOW - PRUNING.delivery_keys),
        delete(J).where(J.c.status == "dead", J.c.received_at < NOW - PRUNING.dead_requests),
        delete(W).where(W.c.expires_at <= NOW),
    ]
    t0 = time.perf_counter()
    async with store.transaction() as conn:
        for statement in work:
            await conn.execute(statement)
    return time.perf_counter() - t0


async def state(store: Store) -> dict[str, int]:
    """What a pass leaves, in figures: the two ways must leave the same."""
    anonymous = S.c.user_id == ANONYMOUS
    figures = {
        "surveys": select(func.count()).select_from(S),
        "anonymised": select(func.count()).where(anonymous),
        "anonymised_ids": select(func.coalesce(func.sum(S.c.id), 0)).where(anonymous),
        "anonymised_keys": select(func.count()).where(S.c.case_key.like(f"%{ANONYMOUS}:%")),
        "named": select(func.count()).where(S.c.customer_name.is_not(None)),
        "with_metadata": select(func.count()).where(cast(S.c.extra, Text) != "{}"),
        "comments": select(func.count()).where(S.c.comment.is_not(None)),
        "comment_ids": select(func.coalesce(func.sum(S.c.id), 0)).where(S.c.comment.is_not(None)),
        "unparsed": select(func.count()).where(cast(S.c.unparsed, Text) != "[]"),
        "commented": select(func.count()).where(or_(S.c.comment.is_not(None), cast(S.c.unparsed, Text) != "[]")),
        "scores": select(func.coalesce(func.sum(S.c.score), 0)),
        "outbox": select(func.count()).select_from(OB),
        "outbox_ids": select(func.coalesce(func.sum(OB.c.id), 0)),
        "delivery_keys": select(func.count()).select_from(K),
        "journal": select(func.count()).select_from(J),
        "contacts": select(func.count()).select_from(C),
        "contact_names": select(func.count()).where(C.c.name.is_not(None)),
    }
    async with store.read() as conn:
        return {name: int((await conn.execute(q)).scalar_one()) for name, q in figures.items()}


async def warm(store: Store) -> None:
    """Read every table once, so neither way pays alone for a cold cache."""
    async with store.read() as conn:
        for table in (S, OB, K, J, C):
            await conn.execute(select(func.count()).select_from(table))


# ---- a run ------------------------------------------------------------------------------------------------------


@dataclass
class Result:
    backend: str
    rows: int
    generate_seconds: float
    pass_seconds: float
    baseline_seconds: float
    counts: dict[str, int]
    before: dict[str, int]
    after_pass: dict[str, int]
    after_baseline: dict[str, int]

    @property
    def ratio(self) -> float:
        return self.pass_seconds / self.baseline_seconds


async def compare(make: Callable[[int], Store], rows: int, backend: str, seconds: float) -> Result:
    """Run the pass on the first copy and the baseline on the second; `make(copy)` opens a copy's store."""
    first, second = make(0), make(1)
    try:
        before = await state(first)
        await warm(first)
        pass_seconds, counts = await retention_pass(first)
        after_pass = await state(first)
        await warm(second)
        baseline_seconds = await baseline(second)
        after_baseline = await state(second)
    finally:
        await first.dispose()
        await second.dispose()
    return Result(backend, rows, seconds, pass_seconds, baseline_seconds, counts, before, after_pass, after_baseline)


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy through SQLite's backup API (the WAL included)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


async def run_sqlite(rows: int, directory: Path) -> Result:
    paths = [directory / "pass.db", directory / "baseline.db"]
    store = Store(f"sqlite+aiosqlite:///{paths[0]}")
    t0 = time.perf_counter()
    await generate(store, rows)
    await store.dispose()
    copy_sqlite(paths[0], paths[1])
    seconds = time.perf_counter() - t0
    return await compare(lambda n: Store(f"sqlite+aiosqlite:///{paths[n]}"), rows, "sqlite", seconds)


async def run_postgres(rows: int) -> Result:
    names = [f"npsbot_retbench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        await admin(f'CREATE DATABASE "{names[0]}"')
        store = Store(f"{base}/{names[0]}")
        t0 = time.perf_counter()
        await generate(store, rows)
        await store.dispose()
        await admin(f'CREATE DATABASE "{names[1]}" TEMPLATE "{names[0]}"')
        seconds = time.perf_counter() - t0
        return await compare(lambda n: Store(f"{base}/{names[n]}"), rows, "postgres", seconds)
    finally:
        for name in names:
            await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report(r: Result) -> None:
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"{r.backend}, {r.rows:,} surveys (generated and copied in {r.generate_seconds:.0f} s; load {load}):")
    print(f"  {'baseline: one statement per table':<44} {r.baseline_seconds:9.2f} s")
    print(f"  {'retention pass, batches of ' + str(PRUNING.batch):<44} {r.pass_seconds:9.2f} s   {r.ratio:5.2f}×")
    print("  removed: " + ", ".join(f"{k} {v:,}" for k, v in sorted(r.counts.items()) if v))
    same = "the same" if r.after_pass == r.after_baseline else "DIFFERENT"
    print(f"  end states of the pass and the baseline: {same}")
    if r.after_pass != r.after_baseline:
        for key in r.before:
            print(f"    {key:<16} before {r.before[key]:>14,}  pass {r.after_pass[key]:>14,}  "
                  f"baseline {r.after_baseline[key]:>14,}")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="surveys to generate (default 1,000,000)")
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    args = parser.parse_args()
    failed = False
    for backend in args.backends:
        if backend == "sqlite":
            directory = Path(tempfile.mkdtemp(prefix="npsbot-retbench-"))
            try:
                result = await run_sqlite(args.rows, directory)
            finally:
                shutil.rmtree(directory, ignore_errors=True)
        else:
            result = await run_postgres(args.rows)
        report(result)
        failed = failed or result.after_pass != result.after_baseline
    print("ratio = the pass's seconds over the baseline's on the same backend in this run")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
