"""One campaign as a job on the stored schedule (core/scheduler): each occurrence walks the profile's contacts a
batch at a time and stores the due people's surveys as pending, due at their time in the send window; the survey
tick asks them from there. Progress is kept after every batch, so a run that crashed resumes where it stopped, and
every survey's case is unique per campaign, period and person, so a batch done twice adds nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.campaigns import (
    OUTCOMES,
    Campaign,
    CampaignContact,
    Decision,
    Period,
    case_id,
    case_key,
    decide,
    people,
    tally,
)
from core.messages import normalize_locale
from core.profiles import ProfileSettings
from core.scheduler import Turn
from core.schedules import Schedule, zone
from core.store import Store, chores
from core.store import campaigns as q
from core.store.privacy import suppressed_hashes
from core.suppression import SuppressionKeys, digest

BATCH = 2000


def job_name(profile: str, campaign: str) -> str:
    return f"campaign:{profile}:{campaign}"


def _contact(row: Any, suppressed: bool = False) -> CampaignContact:
    return CampaignContact(
        id=row.id,
        channel=row.channel,
        user_id=row.user_id,
        conversation_id=row.conversation_id,
        workspace=row.workspace,
        locale=row.locale,
        timezone=row.timezone,
        name=row.name,
        attributes=row.attributes or {},
        consent=row.consent,
        external_id=row.external_id,
        opted_out=row.opted_out_at is not None,
        unreachable=row.unreachable_at is not None,
        last_surveyed_at=row.last_surveyed_at,
        suppressed=suppressed,
    )


@dataclass(frozen=True, slots=True)
class Batch:
    """One batch's decisions and the id the next batch starts after."""

    decisions: list[Decision]
    last_id: int


class CampaignJob:
    """`campaign:<profile>:<campaign>` on the campaign's schedule, read in the campaign's time zone."""

    def __init__(
        self,
        store: Store,
        settings: ProfileSettings,
        campaign: Campaign,
        clock: Callable[[], datetime],
        suppression: SuppressionKeys | None = None,
        batch: int = BATCH,
    ) -> None:
        self.store, self.settings, self.campaign, self.clock = store, settings, campaign, clock
        self.suppression = suppression or SuppressionKeys()
        self.batch = batch
        self.name = job_name(settings.name, campaign.name)
        self.schedule: Schedule = campaign.schedule
        self.tz: ZoneInfo = zone(campaign.timezone)

    async def run(self, turn: Turn) -> dict[str, int]:
        """Serve one occurrence; a resumed run starts after the last batch an earlier attempt kept."""
        saved = turn.progress
        now = self.clock()
        start = datetime.fromisoformat(saved["start"]) if "start" in saved else max(turn.occurrence.at, now)
        period = Period(self.settings.name, turn.occurrence.at, start, now, self.settings.policy.throttle)
        counts: dict[str, int] = dict.fromkeys((*OUTCOMES, "created"), 0) | saved.get("counts", {})
        after = int(saved.get("after", 0))
        async for batch in self.walk(period, after):
            rows = [self._row(d, period, now) for d in batch.decisions if d.outcome == "due"]
            async with self.store.transaction() as conn:
                created = await q.insert_surveys(conn, rows)
            for outcome, n in tally(batch.decisions).items():
                counts[outcome] += n
            counts["created"] += created
            await turn.keep({"after": batch.last_id, "counts": dict(counts), "start": start.isoformat()})
        return counts

    async def stored(self) -> dict[str, Any] | None:
        """The job's row on the stored schedule (due_at, last_finished_at, last_counts, state), None before the
        worker first saw it."""
        async with self.store.transaction() as conn:
            return await chores.chore(conn, self.name)

    def current(self, stored: dict[str, Any] | None, now: datetime) -> datetime:
        """The latest occurrence at or before `now`: the period a preview or a forced run serves."""
        anchor = (stored or {}).get("state", {}).get("anchor")
        return self.schedule.at_or_before(now, self.tz, None if anchor is None else datetime.fromisoformat(anchor))

    async def preview(self, occurrence: datetime) -> dict[str, int]:
        """What a run for `occurrence` would decide now, without storing anything."""
        now = self.clock()
        period = Period(self.settings.name, occurrence, max(occurrence, now), now, self.settings.policy.throttle)
        counts = dict.fromkeys(OUTCOMES, 0)
        async for batch in self.walk(period, 0):
            for outcome, n in tally(batch.decisions).items():
                counts[outcome] += n
        return counts

    async def walk(self, period: Period, after: int) -> AsyncIterator[Batch]:
        """The decisions batch by batch, in contact id order from `after`. A person is decided in the batch holding
        their lowest contact id, with all their contacts read in the same query round."""
        profile = self.settings.name
        while True:
            async with self.store.transaction() as conn:
                rows = await q.contact_batch(conn, profile, after, self.batch)
                if not rows:
                    return
                linked = {r.external_id for r in rows if r.external_id}
                others = await q.person_contacts(conn, profile, linked)
                found = {r.id: r for r in (*rows, *others)}
                listed = await self._suppressed(conn, found.values(), period.now)
            groups = people(_contact(r, r.id in listed) for r in found.values())
            first = {r.id for r in rows}
            decisions = [
                decide(self.campaign, period, person, contacts)
                for person, contacts in groups.items()
                if contacts[0].id in first
            ]
            after = rows[-1].id
            yield Batch(decisions, after)

    async def _suppressed(self, conn: Any, rows: Any, now: datetime) -> set[int]:
        """The ids of contacts whose address is on the suppression list, one query for the batch."""
        profile = self.settings.name
        if not await q.any_suppressed(conn, profile):
            return set()
        keys = await self.suppression.for_lookup(conn, now)
        hashes: dict[str, int] = {}
        for r in rows:
            if r.channel in self.campaign.channels:
                for key in keys:
                    hashes[digest(key, profile, r.channel, r.user_id)] = r.id
        return {hashes[h] for h in await suppressed_hashes(conn, hashes)}

    def _row(self, d: Decision, period: Period, now: datetime) -> dict[str, Any]:
        c = d.contact
        assert c is not None and d.due_at is not None
        policy = self.settings.policy
        case = case_id(self.campaign.name, period.key, d.person)
        return {
            "profile": self.settings.name,
            "channel": c.channel,
            "conversation_id": c.conversation_id or c.user_id,
            "user_id": c.user_id,
            "workspace": c.workspace,
            "case_id": case,
            "case_key": case_key(self.settings.name, case),
            "locale": normalize_locale(c.locale, policy.messages.locales(), policy.locale),
            "customer_name": c.name,
            "created_at": now,
            "due_at": d.due_at,
            "campaign": self.campaign.name,
            "variant": d.variant,
            "timezone": c.timezone,
        }


def campaign_jobs_for(
    store: Store,
    profiles: dict[str, ProfileSettings],
    clock: Callable[[], datetime],
    suppression: SuppressionKeys | None = None,
) -> list[CampaignJob]:
    """A job per campaign of every profile."""
    return [
        CampaignJob(store, settings, campaign, clock, suppression)
        for settings in profiles.values()
        for campaign in settings.campaigns
    ]
