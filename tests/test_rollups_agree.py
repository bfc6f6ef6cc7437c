"""The report rollups agree with the raw surveys after any sequence of what happens to them: closes (asked at once,
later, throttled), taps and typed replies, comments and late comments, reopen and withdraw, campaign surveys asked
by the tick, expiry, question receipts (by ref, by survey and up to a watermark) and failures, follow-up claims and
resolutions, erasure of a person, retention passes and theme rebuilds. After every step the rollups summed equal a
direct aggregate of the raw rows (computed here from the report definitions, not from core/rollups.py), and
`rebuild` gives the same contents.

Hypothesis draws the sequences; each example continues on the same database (agreement must hold at every moment,
whatever came before), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core import followup, privacy, question_receipts
from core.escalation import escalate_due
from core.profiles import AlertTarget, ProfileSettings
from core.question_status import QuestionStatus
from core.retention import Pruning, Retention
from core.retention_pass import RetentionPass
from core.rollups import FOLLOWUP_BOUNDS
from core.routing import Rule, Then, When
from core.service import SurveyService
from core.store import Store, installations, rollups
from core.store import question_status as qs
from core.store import surveys as q
from core.store.rollup_fold import fold_all
from core.store.rollup_tables import (
    REPORT_FOLLOWUP_MONTHS,
    REPORT_FOLLOWUPS,
    ReportDayRow,
    ReportSkipRow,
    ReportThemeDayRow,
)
from core.store.sla_tables import FollowUpSlaRow
from core.store.tables import SurveyRow
from core.store.theme_tables import ResponseThemeRow
from core.suppression import SuppressionKeys
from core.survey import Kind, Policy, SkipReason, State, Survey
from core.themes.matcher import ThemeMatcher
from core.themes.rebuild import rebuild as rebuild_themes
from core.types import Address, ConversationClosed, ConversationReopened, ScoreGiven, TextReceived
from core.variants import Variant
from tests.conftest import FakeClock

S, T = SurveyRow.__table__, ResponseThemeRow.__table__
DIMS = ("profile", "channel", "agent", "team", "locale", "workspace", "kind", "campaign", "variant")
TAXONOMIES = (
    {"speed": {"en": ["slow", "fast", "wait"]}, "staff": {"en": ["friendly", "rude"]}},
    {"speed": {"en": ["slow"]}, "price": {"en": ["expensive", "cheap"]}},
)
COMMENTS = ("too slow", "friendly and fast", "rude staff, long wait", "expensive", "fine", "cheap but slow")
RECEIPTS = ("sent", "delivered", "read", "failed")  # "failed!": failed and skipped, as WhatsApp's 131047
UNREACHABLE = "unreachable!"  # failed, the contact unreachable and the survey skipped, as WhatsApp's 131026
KEYS = SuppressionKeys([b"rollup-test-suppression-key-0123"])
LEADS = AlertTarget("memory", "leads")
SLA_RULES = (
    Rule("every detractor", When(category=("detractor",)),
         Then(claim_within=timedelta(minutes=45), resolve_within=timedelta(hours=3), escalate_to=(LEADS,))),
)  # fmt: skip


def profiles(taxonomy: int = 0) -> dict[str, ProfileSettings]:
    matcher = ThemeMatcher.of(TAXONOMIES[taxonomy])
    keep = Retention(comments_days=3, personal_days=5)
    return {
        "acme": ProfileSettings(
            "acme",
            Policy(brand="Acme", throttle=timedelta(hours=1)),
            themes=matcher,
            retention=keep,
            alert_targets=(LEADS,),
            rules=SLA_RULES,
        ),  # asks at once; its detractors get follow-up deadlines
        "tapas": ProfileSettings(
            "tapas",
            Policy(
                brand="Tapas",
                send_delay=timedelta(hours=2),
                throttle=timedelta(days=2),
                variants=(Variant("a"), Variant("b")),
            ),
            themes=matcher,
            retention=keep,
        ),
    }


# ---- the direct aggregate, from the report definitions ------------------------------------------------------------


def _day(at: datetime) -> date:
    return at.astimezone(UTC).date()


def _dims(row: Any) -> tuple[str, ...]:
    return tuple("" if getattr(row, d) is None else str(getattr(row, d)) for d in DIMS)


async def direct(store: Store) -> dict[str, Counter[tuple[Any, ...]]]:
    """Every counter the reports compute, per (table, day, dimensions[, reason | theme], counter)."""
    async with store.read() as conn:
        surveys = (await conn.execute(select(S))).all()
        themes = (await conn.execute(select(T))).all()
    by_id = {s.id: s for s in surveys}
    days: Counter[tuple[Any, ...]] = Counter()
    skips: Counter[tuple[Any, ...]] = Counter()
    for s in surveys:
        if s.state == "skipped":
            skips[(_day(s.created_at), *_dims(s), s.skip_reason or "unknown", "surveys")] += 1
        if s.asked_at is None:
            assert s.score is None, "a response is always asked"
            continue
        key = (_day(s.asked_at), *_dims(s))
        answered = s.score is not None
        status = s.question_status
        days[(*key, "asked")] += 1
        if answered:
            days[(*key, f"s{s.score}")] += 1
        days[(*key, "commented")] += int(s.comment is not None and s.category is not None)
        if s.comment is not None and s.category is not None:
            days[(*key, f"c_{s.category}")] += 1
        days[(*key, "q_sent")] += int(status is not None or s.question_ref is not None or answered)
        days[(*key, "q_reached")] += int(status in ("delivered", "read") or answered)
        days[(*key, "q_failed")] += int(status == "failed")
        days[(*key, "q_reported")] += int(status in ("delivered", "read", "failed"))
        if s.category == "detractor" and s.state == "completed":
            state = "resolved" if s.resolved_at else "claimed" if s.claimed_at else "open"
            days[(*key, f"fu_{state}")] += 1
    themed: Counter[tuple[Any, ...]] = Counter()
    for t in themes:
        s = by_id[t.survey_id]
        own = (t.profile, t.channel, t.agent or "", t.team or "", t.locale)
        rest = tuple("" if getattr(s, d) is None else str(getattr(s, d)) for d in DIMS[5:])
        if t.asked_at is not None and s.score is not None:
            themed[(_day(t.asked_at), *own, *rest, t.theme, f"s{s.score}")] += 1
    followed = await direct_followups(store, surveys)
    monthly: Counter[tuple[Any, ...]] = Counter()
    for (day, *rest), n in followed.items():
        monthly[(day.replace(day=1), *rest)] += n
    return {"report_days": +days, "report_skips": +skips, "report_theme_days": +themed, "report_followups": followed,
            "report_followup_months": monthly}  # fmt: skip


async def direct_followups(store: Store, surveys: Any) -> Counter[tuple[Any, ...]]:
    """report_followups' counters from the surveys and their SLA rows: completed detractors per day, dimensions and
    claimer; a deadline breached when claimed (resolved) after it; escalations; durations by bucket."""
    async with store.read() as conn:
        slas = {row.survey_id: row for row in (await conn.execute(select(FollowUpSlaRow.__table__))).all()}
    out: Counter[tuple[Any, ...]] = Counter()
    for s in surveys:
        if s.category != "detractor" or s.state != "completed":
            continue
        key = (_day(s.asked_at), *_dims(s), s.claimed_by or "")
        sla = slas.get(s.id)
        out[(*key, "detractors")] += 1
        out[(*key, "with_sla")] += int(sla is not None)
        for kind, done in (("claim", s.claimed_at), ("resolve", s.resolved_at)):
            out[(*key, {"claim": "claimed", "resolve": "resolved"}[kind])] += int(done is not None)
            due, escalated = (getattr(sla, f"{kind}_{c}_at", None) for c in ("due", "escalated"))
            out[(*key, f"{kind}_late")] += int(None not in (done, due) and done > due)
            out[(*key, f"{kind}_escalated")] += int(escalated is not None)
            stored = getattr(s, f"{kind}_seconds")
            if done is None:
                assert stored is None, (s.id, kind)
                continue
            assert abs(stored - (done - s.completed_at).total_seconds()) < 0.0015, (s.id, kind, stored)
            bucket = sum(stored >= bound for bound in FOLLOWUP_BOUNDS)
            out[(*key, f"{kind[0]}b{bucket}")] += 1
    return +out


async def rolled(store: Store) -> dict[str, Counter[tuple[Any, ...]]]:
    """The rollup tables' counters in the same shape (zero counters left out): their rows as stored plus the rows of
    their change logs not folded yet, as reports read them."""
    out: dict[str, Counter[tuple[Any, ...]]] = {}
    async with store.read() as conn:
        for name, table, extra, counters in (
            ("report_days", ReportDayRow.__table__, (), rollups.COUNTERS["report_days"]),
            ("report_skips", ReportSkipRow.__table__, ("reason",), ("surveys",)),
            ("report_theme_days", ReportThemeDayRow.__table__, ("theme",), rollups.COUNTERS["report_theme_days"]),
            ("report_followups", REPORT_FOLLOWUPS, ("claimed_by",), rollups.COUNTERS["report_followups"]),
            ("report_followup_months", REPORT_FOLLOWUP_MONTHS, ("claimed_by",), rollups.COUNTERS["report_followups"]),
        ):
            found: Counter[tuple[Any, ...]] = Counter()
            for source in (table, rollups.LOGS[name]):
                for row in (await conn.execute(select(source))).all():
                    day = row.day if isinstance(row.day, date) else date.fromisoformat(str(row.day))
                    key = (day, *(getattr(row, d) for d in DIMS), *(getattr(row, c) for c in extra))
                    for c in counters:
                        found[(*key, c)] += getattr(row, c)
            assert all(n >= 0 for n in found.values()), (name, -found)
            out[name] = +found
    return out


async def logged(store: Store) -> int:
    """Change log rows not folded yet, in all."""
    async with store.read() as conn:
        return sum([len((await conn.execute(select(log))).all()) for log in rollups.LOGS.values()])


async def agree(store: Store, step: str) -> dict[str, Counter[tuple[Any, ...]]]:
    """Assert the rollups equal the direct aggregate and what `rebuild` makes of the raw rows; the aggregate."""
    expected, maintained = await direct(store), await rolled(store)
    for table in expected:
        assert maintained[table] == expected[table], (step, table, maintained[table] - expected[table],
                                                      expected[table] - maintained[table])  # fmt: skip
    if step.endswith("(folded)"):  # every other step's changes are folded before the next: both states are read
        await fold_all(store, batch=2)
        assert await logged(store) == 0 and await rolled(store) == maintained, step
    async with store.transaction() as conn:
        await rollups.rebuild(conn)
    assert await logged(store) == 0 and await rolled(store) == maintained, step
    return expected


# ---- the world the operations act on ------------------------------------------------------------------------------


class World:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.clock = FakeClock(datetime(2026, 3, 31, 22, 30, tzinfo=UTC))  # a month ends at midnight: steps cross both
        self.taxonomy = 0
        self.service = SurveyService(store, profiles(), self.clock, KEYS)
        self.cases = 0

    async def open_surveys(self, states: tuple[str, ...]) -> list[Survey]:
        async with self.store.read() as conn:
            ids = (await conn.execute(select(S.c.id).where(S.c.state.in_(states)).order_by(S.c.id))).scalars().all()
            return [s for i in ids if (s := await q.get_survey(conn, i)) is not None]

    async def pick(self, states: tuple[str, ...], n: int) -> Survey | None:
        found = await self.open_surveys(states)
        return found[n % len(found)] if found else None

    async def run(self, op: tuple[Any, ...]) -> None:
        kind, *args = op
        await getattr(self, kind)(*args)

    async def close(self, profile: str, channel: str, user: int, agent: str | None, team: str | None,
                    locale: str, workspace: str | None) -> None:  # fmt: skip
        self.cases += 1
        address = Address(channel, profile, f"conv-{user}", f"u{user}", None, workspace)
        event = ConversationClosed(address, agent=agent, team=team, locale=locale, case_id=f"case-{self.cases}")
        await self.service.handle(event)

    async def campaign(self, profile: str, user: int, campaign: str, variant: str | None) -> None:
        """A campaign's pending survey (relational), asked by the tick when due."""
        self.cases += 1
        now = self.clock()
        address = Address("telegram", profile, f"conv-{user}", f"u{user}")
        survey = Survey(address, State.PENDING, "en", now, case_id=f"camp-{self.cases}", due_at=now,
                        kind=Kind.RELATIONAL, campaign=campaign, variant=variant)  # fmt: skip
        async with self.store.transaction() as conn:
            await q.insert_survey(conn, survey, Policy())

    async def tap(self, n: int, score: int, comment: str | None) -> None:
        """A score, and the comment straight after it when there is one."""
        s = await self.pick(("asked",), n)
        if s is not None:
            await self.service.handle(ScoreGiven(s.address, score, survey_id=s.id))
            if comment is not None:
                await self.service.handle(TextReceived(s.address, comment))

    async def text(self, n: int, words: str) -> None:
        s = await self.pick(("asked", "scored"), n)
        if s is not None:
            await self.service.handle(TextReceived(s.address, words))

    async def reopen(self, n: int) -> None:
        s = await self.pick(("pending", "asked"), n)
        if s is not None:
            await self.service.handle(ConversationReopened(s.address))

    async def later(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)
        await self.service.tick()

    async def sent(self, n: int) -> None:
        s = await self.pick(("asked", "scored", "completed", "expired"), n)
        if s is None:
            return
        async with self.store.transaction() as conn:
            if n % 2:  # as the worker records a group of questions it sent
                await qs.record_asked(conn, [(s.id, f"ref-{s.id}"), (s.id, None)], self.clock())
            else:
                await q.set_question_ref(conn, s.id, f"ref-{s.id}")

    async def receipt(self, n: int, status: str) -> None:
        """A platform's receipt naming the question's ref (for every third survey, recorded by its id instead)."""
        failing = {"failed!": SkipReason.OUTSIDE_WINDOW, UNREACHABLE: SkipReason.UNREACHABLE}
        states = ("asked",) if status in failing else ("asked", "scored", "completed", "expired", "skipped")
        s = await self.pick(states, n)
        if s is None:
            return
        ref = f"ref-{s.id}"
        async with self.store.transaction() as conn:
            if await q.question_ref(conn, s.id) is None:
                await q.set_question_ref(conn, s.id, ref)
        a = s.address
        if status in failing:
            await self.service.question_failed(a.profile, a.channel, ref, self.clock(), failing[status])
        elif n % 3 == 2:
            async with self.store.transaction() as conn:
                await qs.advance_by_id(conn, s.id, QuestionStatus(status), self.clock())
        else:
            await self.service.question_status(a.profile, a.channel, ref, status, self.clock())

    async def watermark(self, profile: str, channel: str, user: int, status: str) -> None:
        """A receipt up to a moment (Messenger's watermark): every question the customer was sent by then."""
        now = self.clock()
        await question_receipts.advance_until(self.store, profile, channel, f"u{user}", status, now, now)

    async def follow_up(self, n: int, resolve: bool) -> None:
        s = await self.pick(("completed",), n)
        if s is None or s.category != "detractor":
            return
        act = followup.resolve if resolve else followup.claim
        await act(self.store, s.id, ("lead", "ana")[n % 2], self.clock())

    async def escalate(self, minutes: int) -> None:
        """Time passes and the worker escalates the follow-up deadlines it finds passed."""
        self.clock.advance(minutes=minutes)
        await escalate_due(self.store, self.service.profiles, self.clock())

    async def erase(self, user: int) -> None:
        scope = privacy.Scope(frozenset({"acme", "tapas"}))
        for channel in ("telegram", "slack"):
            try:
                await privacy.erase(self.store, KEYS, channel=channel, user_id=f"u{user}", scope=scope,
                                    actor="test", now=self.clock())  # fmt: skip
            except privacy.UnknownPerson:
                pass

    async def retention(self, days: int) -> None:
        self.clock.advance(days=days)
        await RetentionPass(self.store, self.service.profiles, Pruning(), self.clock).run_due(force=True)

    async def uninstall(self, profile: str) -> None:
        """The Slack workspace T1 removed the app: its unanswered surveys end skipped (uninstalled)."""
        await installations.remove(self.store, "slack", profile, "T1", "app_uninstalled", self.clock())

    async def retheme(self, profile: str) -> None:
        self.taxonomy = 1 - self.taxonomy
        self.service = SurveyService(self.store, profiles(self.taxonomy), self.clock, KEYS)
        await rebuild_themes(self.store, profile, ThemeMatcher.of(TAXONOMIES[self.taxonomy]), batch=3)


PROFILE = st.sampled_from(["acme", "tapas"])
USER = st.integers(0, 5)
OPERATION = st.one_of(
    st.tuples(
        st.just("close"),
        PROFILE,
        st.sampled_from(["telegram", "slack"]),
        USER,
        st.sampled_from(["ana", "bo", None]),
        st.sampled_from(["red", None]),
        st.sampled_from(["en", "de"]),
        st.sampled_from(["T1", None]),
    ),
    st.tuples(st.just("campaign"), PROFILE, USER, st.sampled_from(["spring", "q3"]), st.sampled_from(["a", None])),
    st.tuples(st.just("tap"), st.integers(0, 9), st.integers(0, 10), st.sampled_from([*COMMENTS, None, None])),
    st.tuples(st.just("text"), st.integers(0, 9), st.sampled_from([*COMMENTS, "7", "stop"])),
    st.tuples(st.just("reopen"), st.integers(0, 9)),
    st.tuples(st.just("later"), st.sampled_from([30, 150, 600, 1500])),
    st.tuples(st.just("sent"), st.integers(0, 9)),
    st.tuples(st.just("receipt"), st.integers(0, 9), st.sampled_from([*RECEIPTS, "failed!", UNREACHABLE])),
    st.tuples(
        st.just("watermark"),
        PROFILE,
        st.sampled_from(["telegram", "slack"]),
        USER,
        st.sampled_from(["delivered", "read"]),
    ),
    st.tuples(st.just("follow_up"), st.integers(0, 9), st.booleans()),
    st.tuples(st.just("escalate"), st.sampled_from([10, 50, 200])),
    st.tuples(st.just("erase"), USER),
    st.tuples(st.just("retention"), st.sampled_from([1, 4, 6])),
    st.tuples(st.just("retheme"), PROFILE),
    st.tuples(st.just("uninstall"), PROFILE),
)


# One sequence that surely reaches every kind of counter and skip, before the random ones.
STORY = [
    ("close", "acme", "telegram", 1, "ana", "red", "en", None),
    ("close", "acme", "slack", 2, "bo", None, "de", "T1"),
    ("close", "acme", "telegram", 1, "ana", "red", "en", None),  # throttled
    ("campaign", "tapas", 3, "spring", "a"),
    ("later", 30),  # the campaign's survey is asked
    ("tap", 0, 2, "too slow"),  # a detractor with a comment that mentions a theme
    ("receipt", 0, "delivered"),
    ("receipt", 1, "failed!"),  # outside the window: skipped
    ("sent", 1),  # recorded by the worker: sent
    ("watermark", "acme", "telegram", 1, "read"),
    ("receipt", 2, "read"),  # by the survey's id
    ("close", "acme", "telegram", 6, "ana", None, "en", None),
    ("receipt", 0, UNREACHABLE),  # not a number the platform can reach: skipped
    ("escalate", 50),  # its claim deadline passed unclaimed: escalated
    ("follow_up", 0, False),  # claimed late
    ("escalate", 200),  # the resolve deadline passed: escalated
    ("follow_up", 0, True),  # resolved late
    ("close", "acme", "telegram", 4, None, None, "en", None),
    ("reopen", 0),
    ("erase", 2),
    ("close", "acme", "slack", 2, "bo", None, "de", "T1"),  # suppressed
    ("retheme", "acme"),
    ("close", "acme", "slack", 5, "bo", None, "de", "T1"),
    ("uninstall", "acme"),
    ("retention", 6),
]


@pytest.fixture
async def running(store: Store) -> tuple[asyncio.AbstractEventLoop, Store]:
    """The store with the loop it lives on, for a test hypothesis drives from sync code."""
    return asyncio.get_running_loop(), store


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_rollups_equal_the_direct_aggregate_after_any_step(running: tuple[asyncio.AbstractEventLoop, Store]) -> None:
    loop, store = running
    world = World(store)
    reached: set[str] = set()
    reasons: set[str] = set()
    themed = 0

    @settings(max_examples=10, deadline=None, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])  # fmt: skip
    @example(STORY)
    @given(st.lists(OPERATION, min_size=5, max_size=20))
    def sequence(ops: list[tuple[Any, ...]]) -> None:
        for i, op in enumerate(ops):
            loop.run_until_complete(world.run(op))
            counted = loop.run_until_complete(agree(store, f"{i}: {op}" + (" (folded)" if i % 2 else "")))
            nonlocal themed
            reached.update(key[-1] for table in counted.values() for key in table)
            reasons.update(key[-2] for key in counted["report_skips"])
            themed += len(counted["report_theme_days"])

    sequence()
    # What the sequences reached (derandomized, so the same every run): every kind of counter and skip moved.
    assert {"asked", "commented", "q_sent", "q_reached", "q_failed", "q_reported", "fu_open"} <= reached, reached
    followed = {"with_sla", "claim_late", "resolve_late", "claim_escalated", "resolve_escalated", "claimed", "resolved"}
    assert followed <= reached, followed - reached
    assert {"reopened", "suppressed", "throttled", "outside_window", "unreachable"} <= reasons, reasons
    assert themed


async def test_concurrent_writers_of_the_same_surveys_count_once(pg_store: Store) -> None:
    """Receipts, answers and follow-ups racing for the same surveys on several connections: each write's change is
    counted once (rows locked before their old contribution is read), and nobody deadlocks."""
    world = World(pg_store)
    for user in range(6):
        await world.close("acme", "telegram", user, "ana", None, "en", None)
    asked = await world.open_surveys(("asked",))
    async with pg_store.transaction() as conn:
        for s in asked:
            await q.set_question_ref(conn, s.id, f"ref-{s.id}")

    async def receipt(s: Survey, status: str) -> None:
        await world.service.question_status("acme", "telegram", f"ref-{s.id}", status, world.clock())

    async def answer(s: Survey, score: int) -> None:
        await world.service.handle(ScoreGiven(s.address, score, survey_id=s.id))
        await world.service.handle(TextReceived(s.address, "slow"))

    racing = [receipt(s, status) for s in asked for status in (*RECEIPTS, *RECEIPTS)]
    await asyncio.gather(*racing, *(answer(s, i % 4) for i, s in enumerate(asked)))
    await asyncio.gather(*(world.follow_up(i, i % 2 == 0) for i in range(len(asked))))
    counted = await agree(pg_store, "concurrent")
    assert sum(n for key, n in counted["report_days"].items() if key[-1] == "q_reported") > 0
