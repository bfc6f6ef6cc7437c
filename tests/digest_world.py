"""A hand-computed week for the digest tests, written through the survey service (so every derived table a report
reads is maintained as in production), plus follow-up claims and SLA deadlines.

Profile `shop`, weekly digest closing Monday 16 March 2026 00:00 UTC:
  previous week (2–9 March)  red/ana 10 3 2 8 · blue/ben 9 10 10 7 · green/dan 0
    → promoters 4, passives 2, detractors 3, n 9: NPS 100·(4−3)/9 = +11.11
  this week (9–16 March)     red/ana 10 10 9 2 and two unanswered · blue/ben 10 8 5 3 · green/dan 10
    → promoters 5, passives 1, detractors 3, n 9, asked 11: NPS 100·(5−3)/9 = +22.22, response rate 9/11
    margin 1.96·100·√((5/9 + 3/9 − (2/9)²)/9) = 59.86; change +11.11, below 30 responses: not significant
  movers (at least 3 responses in both weeks): blue −25 − 75 = −100 (down), red 50 − (−25) = +75 (up); green has 1
Follow-ups at the digest (16 March 00:00): this week's 2 claimed, resolve deadline passed (overdue); 5 unclaimed,
claim deadline passed (overdue); 3 unclaimed, deadline ahead; last week's 0 open without SLA, 3 resolved, 2 claimed
late with its resolve deadline ahead → open 5, overdue 2. Profile `other` has an overdue detractor of its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.memory import MemoryChannel
from core import followup
from core.profiles import ProfileSettings
from core.service import SurveyService
from core.sla import Deadlines
from core.store import Store
from core.store import sla as sla_store
from core.survey import Policy

PREVIOUS = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
CURRENT = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
SINCE = datetime(2026, 3, 9, 0, 0, tzinfo=UTC)
UNTIL = datetime(2026, 3, 16, 0, 0, tzinfo=UTC)

WEEKS: list[tuple[str, datetime, str, str, int | None]] = [
    ("p10", PREVIOUS, "red", "ana", 10), ("p3", PREVIOUS, "red", "ana", 3), ("p2", PREVIOUS, "red", "ana", 2),
    ("p8", PREVIOUS, "red", "ana", 8), ("p9", PREVIOUS, "blue", "ben", 9), ("p10b", PREVIOUS, "blue", "ben", 10),
    ("p10c", PREVIOUS, "blue", "ben", 10), ("p7", PREVIOUS, "blue", "ben", 7), ("p0", PREVIOUS, "green", "dan", 0),
    ("c10", CURRENT, "red", "ana", 10), ("c10b", CURRENT, "red", "ana", 10), ("c9", CURRENT, "red", "ana", 9),
    ("c2", CURRENT, "red", "ana", 2), ("cx", CURRENT, "red", "ana", None), ("cy", CURRENT, "red", "ana", None),
    ("c10c", CURRENT, "blue", "ben", 10), ("c8", CURRENT, "blue", "ben", 8), ("c5", CURRENT, "blue", "ben", 5),
    ("c3", CURRENT, "blue", "ben", 3), ("c10d", CURRENT, "green", "dan", 10),
]  # fmt: skip


def profiles(**shop: Any) -> dict[str, ProfileSettings]:
    policy = Policy(brand="Shop", throttle=timedelta(0))
    return {
        "shop": ProfileSettings("shop", policy, **shop),
        "other": ProfileSettings("other", Policy(brand="Other", throttle=timedelta(0))),
    }


async def respond(chat: MemoryChannel, conv: str, team: str, agent: str, score: int | None) -> int:
    out = await chat.close(conv, f"u-{conv}", agent=agent, team=team)
    assert out.survey is not None and out.survey.id is not None
    if score is not None:
        await chat.tap(conv, f"u-{conv}", score)
        await chat.reply(conv, f"u-{conv}", "a comment")  # completes the survey
    return out.survey.id


async def seed(store: Store, clock: Any, settings: dict[str, ProfileSettings] | None = None) -> dict[str, int]:
    """The two weeks above; the survey ids by label."""
    service = SurveyService(store, settings or profiles(), clock)
    shop, other = MemoryChannel(service, "shop"), MemoryChannel(service, "other")
    ids: dict[str, int] = {}
    for label, at, team, agent, score in WEEKS:
        clock.now = at
        ids[label] = await respond(shop, label, team, agent, score)
    clock.now = CURRENT
    ids["o1"] = await respond(other, "o1", "red", "zoe", 1)

    async def deadlines(label: str, profile: str = "shop", claim: datetime | None = None, resolve=None) -> None:
        async with store.transaction() as conn:
            await sla_store.start(conn, ids[label], profile, Deadlines(CURRENT, claim, resolve, ()))

    hour = timedelta(hours=1)
    await followup.claim(store, ids["c2"], "lead", CURRENT + hour)
    await deadlines("c2", resolve=UNTIL - hour)
    await deadlines("c5", claim=UNTIL - hour)
    await deadlines("c3", claim=UNTIL + hour)
    await followup.claim(store, ids["p3"], "lead", PREVIOUS + hour)
    await followup.resolve(store, ids["p3"], "lead", PREVIOUS + 2 * hour)
    await deadlines("p3", resolve=PREVIOUS + 3 * hour)
    await followup.claim(store, ids["p2"], "lead", PREVIOUS + 48 * hour)
    await deadlines("p2", claim=PREVIOUS + 24 * hour, resolve=UNTIL + 24 * hour)
    await deadlines("o1", "other", claim=CURRENT + hour)
    clock.now = UNTIL
    return ids
