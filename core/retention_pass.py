"""The retention pass: finished surveys lose their comments and personal fields once a profile's limits pass, and
operational rows past their useful life are pruned. Run by the worker on a stored schedule under a stored lease, so
among several workers one runs it at a time; in batches, each its own short transaction.

Each profile's surveys are processed by creation time up to the cutoff; how far a stage got is kept with the
schedule, so a later pass starts there instead of at the beginning of time (never past a survey still open, which is
looked at again once it has ended).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from core.profiles import ProfileSettings
from core.retention import Pruning
from core.store import Store, chores
from core.store import retention as q

log = logging.getLogger(__name__)

CHORE = "retention"
STAGES = ("personal", "comments")
CHECK_EVERY = 60.0  # seconds between looks at the stored schedule (only to spare the database the question)


class LeaseLost(RuntimeError):
    """Another worker holds the pass now (this one stalled past its lease): stop without finishing."""


class RetentionPass:
    def __init__(
        self,
        store: Store,
        profiles: Mapping[str, ProfileSettings],
        pruning: Pruning,
        clock: Callable[[], datetime],
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.profiles = profiles
        self.pruning = pruning
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._lease_until: datetime | None = None
        self._state: dict[str, Any] = {}

    async def run(self, stop: asyncio.Event, check_every: float = CHECK_EVERY) -> None:
        """The worker's chore: run the pass whenever the stored schedule says it is due, until `stop`."""
        while not stop.is_set():
            try:
                counts = await self.run_due()
            except Exception:  # the worker goes on; the turn was given back, so the next look retries
                log.exception("retention pass failed")
            else:
                if counts:
                    log.info("retention pass: %s", ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v))
            try:
                await asyncio.wait_for(stop.wait(), check_every)
            except TimeoutError:
                pass

    async def run_due(self, *, force: bool = False) -> dict[str, int] | None:
        """Run the pass if it is due (or `force`) and no other worker holds it: what it did, else None."""
        now = self.clock()
        async with self.store.transaction() as conn:
            state = await chores.claim_chore(conn, CHORE, self.owner, now, self.pruning.lease, force=force)
        if state is None:
            return None
        self._state, self._lease_until = state, now + self.pruning.lease
        try:
            counts = await self._pass(now)
        except LeaseLost:
            log.warning("retention pass: the lease ran out and another worker took over")
            return None
        except BaseException:
            async with self.store.transaction() as conn:
                await chores.release_chore(conn, CHORE, self.owner)
            raise
        async with self.store.transaction() as conn:
            await chores.keep_chore(conn, CHORE, self.owner, self.clock() + self.pruning.lease, self._state)
            await chores.finish_chore(conn, CHORE, self.owner, self.clock(), now + self.pruning.every, counts)
        return counts

    async def preview(self) -> dict[str, int]:
        """What a pass would remove now, counted without changing anything (`npsbot privacy retention --dry-run`)."""
        now = self.clock()
        out: Counter[str] = Counter()
        async with self.store.read() as conn:
            state = ((await chores.chore(conn, CHORE)) or {}).get("state") or {}
            for name, settings in self.profiles.items():
                r = settings.retention
                for stage, cutoff in (("personal", r.personal_cutoff(now)), ("comments", r.comments_cutoff(now))):
                    if cutoff is not None:
                        low = _when(state.get(name, {}).get(stage))
                        out[_STAGE_COUNT[stage]] += await q.count_finished(conn, name, low, cutoff, stage)
                contacts = self._contacts_cutoff(settings, now)
                if contacts is not None:
                    out["contacts_deleted"] += await q.count(conn, q.stale_contacts(name, contacts))
                    out["contact_names_removed"] += await q.count(conn, q.named_contacts(name, contacts))
            for key, candidates in self._prunes(now):
                out[key] += await q.count(conn, candidates)
        return dict(out)

    # ---- the pass ---------------------------------------------------------------------------------------------

    async def _pass(self, now: datetime) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for name, settings in self.profiles.items():
            counts.update(await self._profile(name, settings, now))
        for key, candidates in self._prunes(now):
            counts[key] += await self._delete_all(candidates)
        return dict(counts)

    async def _profile(self, name: str, settings: ProfileSettings, now: datetime) -> Counter[str]:
        counts: Counter[str] = Counter()
        r = settings.retention
        async with self.store.read() as conn:
            open_since = await q.oldest_open(conn, name)
        for stage, cutoff in (("personal", r.personal_cutoff(now)), ("comments", r.comments_cutoff(now))):
            if cutoff is None:
                continue
            marks = self._state.setdefault(name, {})
            low = _when(marks.get(stage))
            if low is None or low < cutoff:
                removed, messages = await self._stage(name, stage, low, cutoff, r.keep_metadata)
                counts[_STAGE_COUNT[stage]] += removed
                counts["messages_of_surveys"] += messages
                # Next time from here: the cutoff, or the oldest survey still open (it may end with a comment).
                marks[stage] = (cutoff if open_since is None else min(cutoff, open_since)).isoformat()
                await self._keep(save=True)
        contacts = self._contacts_cutoff(settings, now)
        if contacts is not None:
            counts["contacts_deleted"] += await self._delete_all(q.stale_contacts(name, contacts))
            while True:
                async with self.store.transaction() as conn:
                    n = await q.forget_names(conn, name, contacts, self.pruning.batch)
                counts["contact_names_removed"] += n
                await self._keep()
                if n < self.pruning.batch:
                    break
        return counts

    async def _stage(
        self, name: str, stage: str, low: datetime | None, high: datetime, keep: tuple[str, ...]
    ) -> tuple[int, int]:
        removed = messages = 0
        after: tuple[datetime, int] | None = None
        while True:
            async with self.store.transaction() as conn:
                found = await q.finished_batch(conn, name, low, high, after, self.pruning.batch, stage)
                ids = [i for i, _ in found]
                done = dropped = 0
                if ids:
                    done = await (q.remove_comments(conn, ids) if stage == "comments" else q.anonymise(conn, ids, keep))
                    dropped = await q.drop_messages_of(conn, ids)
            removed, messages = removed + done, messages + dropped
            await self._keep()
            if len(found) < self.pruning.batch:
                return removed, messages
            after = (found[-1][1], found[-1][0])

    async def _delete_all(self, candidates: Any) -> int:
        total = 0
        while True:
            async with self.store.transaction() as conn:
                n = await q.delete_batch(conn, candidates, self.pruning.batch)
            total += n
            await self._keep()
            if n < self.pruning.batch:
                return total

    async def _keep(self, *, save: bool = False) -> None:
        """Between batches: let other work in, and renew the lease (with the progress made) before it runs out."""
        await asyncio.sleep(0)
        now = self.clock()
        assert self._lease_until is not None
        if not save and now < self._lease_until - self.pruning.lease / 2:
            return
        async with self.store.transaction() as conn:
            held = await chores.keep_chore(conn, CHORE, self.owner, now + self.pruning.lease, self._state)
        if not held:
            raise LeaseLost(CHORE)
        self._lease_until = now + self.pruning.lease

    def _contacts_cutoff(self, settings: ProfileSettings, now: datetime) -> datetime | None:
        """A contact is kept at least as long as the throttle needs its last survey time."""
        cutoff = settings.retention.personal_cutoff(now)
        return None if cutoff is None else min(cutoff, now - settings.policy.throttle)

    def _prunes(self, now: datetime) -> list[tuple[str, Any]]:
        p = self.pruning
        return [
            ("sent_messages", q.sent_messages(now - p.sent_messages)),
            ("dead_letters", q.dead_letters(now - p.dead_letters)),
            ("delivery_keys", q.delivery_keys(now - p.delivery_keys)),
            ("dead_requests", q.dead_requests(now - p.dead_requests)),
            ("expired_sessions", q.expired_sessions(now)),
        ]


_STAGE_COUNT = {"personal": "surveys_anonymised", "comments": "comments_removed"}


def _when(value: Any) -> datetime | None:
    return None if not value else datetime.fromisoformat(str(value))
