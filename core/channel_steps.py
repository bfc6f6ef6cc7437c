"""Messages a channel queues for a survey on its own, beyond the survey's steps: a platform whose buttons can't show
the whole 0–10 scale at once (WhatsApp's second step of the scale), or whose first contact had to be a template
(the question itself once the customer's quick reply opened the window). They go through the outbox like every
other message, in the survey's conversation order, and each happens once under a key the channel chooses."""

from __future__ import annotations

from typing import Any

from core.outbound import messages_for
from core.service import SurveyService
from core.store import outbox as ob
from core.store import survey_lookup
from core.survey import Survey
from core.types import Address, AskScore, Say


async def answerable(service: SurveyService, address: Address) -> Survey | None:
    """The customer's newest survey in this conversation still open to an answer (asked, or scored and waiting for
    the comment), or None."""
    async with service.store.read() as conn:
        return await survey_lookup.find_survey(conn, address, lock=False)


async def queue_once(service: SurveyService, survey: Survey, action: Say | AskScore, key: str) -> bool:
    """Queue `action` for the survey's customer unless `key` was claimed before (a redelivered tap, a second tap on
    the same button); True when it was queued."""
    settings = service.profile(survey.address.profile)
    now = service.clock()
    messages = messages_for(survey, [action], settings, now)

    async def work(conn: Any) -> bool:
        if not await survey_lookup.claim_inbound(conn, key, now):
            return False
        await ob.enqueue(conn, messages, now)
        return True

    return await service.store.run_in_transaction(work)
