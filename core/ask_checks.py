"""What the tick needs to know before it asks a pending survey: whether its contact can still be asked. A campaign's
survey is stored days before its question is due, a delayed transactional one minutes or hours before; meanwhile the
person may have opted out, become unreachable, been erased, or been asked another survey. The same checks the start
of a survey makes (core/survey.py) are made again when the question is due, for the whole batch at once: one query
for the contacts and workspaces, one for the suppression list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from core.store import privacy as privacy_q
from core.store import reachability
from core.suppression import SuppressionKeys, anonymised, anonymous_marker
from core.survey import ContactStatus, State, Survey


def due_to_ask(surveys: Sequence[Survey], now: datetime) -> list[Survey]:
    """The pending surveys whose question is due now (the others in a tick's batch are asked already)."""
    return [s for s in surveys if s.state is State.PENDING and s.id is not None and s.due_at and s.due_at <= now]


async def contacts_when_due(
    conn: Any, surveys: Sequence[Survey], suppression: SuppressionKeys, now: datetime
) -> dict[int, ContactStatus]:
    """Each survey's contact as it stands now, by survey id. Only the survey's own contact is read: a campaign's
    person may have several contacts (one external_id across channels), whose opt-outs and last asks the campaign
    weighed when it chose this one. What happens on the others later is not seen here, and that is enough: outside
    the campaign's choice, opt-out, reachability and the throttle are kept per contact, as for every closed
    conversation (core/service.py)."""
    stored = {s.id: s.address for s in surveys if s.id is not None}
    if not stored:
        return {}
    found = await reachability.contacts_when_due(conn, list(stored))
    by_hash: dict[str, int] = {}
    for survey_id, a in stored.items():
        for h in await suppression.lookup(conn, a.profile, a.channel, a.user_id, now):
            by_hash[h] = survey_id
    listed = {by_hash[h] for h in await privacy_q.suppressed_hashes(conn, by_hash)}
    return {i: replace(c, suppressed=True) if i in listed else c for i, c in found.items()}


async def erase_pending(conn: Any, skipped: Survey, now: datetime) -> Survey:
    """A pending survey of someone erased meanwhile ends as skipped (suppressed) and names nobody, as a close for
    them would have stored it (core/service.py); the rollups follow the change (core/store/privacy.py)."""
    assert skipped.id is not None
    marker = anonymous_marker()
    await privacy_q.anonymise_surveys(conn, [skipped.id], marker, now)
    return anonymised(skipped, marker)
