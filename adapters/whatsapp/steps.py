"""Messages the WhatsApp question sends on its own, beyond what core's survey steps queue: the second step of the
scale (after the row "1 – 2") and the interactive question after a template's quick reply. Both go through the
outbox like every other message (retries, rate limits, crash safety), queued in one transaction with a key that
lets each happen once per survey, however often the customer taps or Meta redelivers the tap.

The survey an id names is client input: it must be this profile's on this channel, this customer's, and still
waiting for its score; anything else is ignored and logged (ids only, never who the customer is)."""

from __future__ import annotations

import logging

from adapters.spec import ChannelDeps
from adapters.whatsapp.config import NAME, WhatsAppConfig
from adapters.whatsapp.texts import labels
from core.channel_steps import answerable, queue_once
from core.survey import State, Survey
from core.types import Address, AskScore, Say

log = logging.getLogger(__name__)
STEP = "ask_score_step"  # the purpose of the second step's Say; the sender shows it as reply buttons


class Steps:
    def __init__(self, deps: ChannelDeps, config: WhatsAppConfig) -> None:
        self.deps = deps
        self.config = config
        self.profile = deps.profile

    async def waiting(self, address: Address) -> Survey | None:
        """This customer's newest survey still open to an answer (asked, or scored and waiting for the comment)."""
        return await answerable(self.deps.service, address)

    async def second_step(self, address: Address, survey_id: int) -> bool:
        """The row "1 – 2" was picked: queue the reply buttons 1 and 2."""
        survey = await self._asked(address, survey_id, "second step")
        if survey is None:
            return False
        policy = self.deps.settings.policy
        words = labels(survey.locale, policy.locale, self.config.labels)
        step = Say(words.pick, purpose=STEP)
        return await queue_once(self.deps.service, survey, step, f"{NAME}:{self.profile}:step:{survey_id}")

    async def question(self, address: Address, survey_id: int) -> bool:
        """A template's quick reply opened the window: queue the interactive question in the survey's language."""
        survey = await self._asked(address, survey_id, "question")
        if survey is None:
            return False
        m, loc, brand = self.deps.settings.policy.messages, survey.locale, self.deps.settings.policy.brand
        action = AskScore(m.text("question", loc, brand=brand), m.text("scale_low", loc), m.text("scale_high", loc))
        return await queue_once(self.deps.service, survey, action, f"{NAME}:{self.profile}:ask:{survey_id}")

    async def _asked(self, address: Address, survey_id: int, what: str) -> Survey | None:
        survey = await self.deps.service.survey(survey_id, self.profile, NAME)
        if survey is None or survey.address.user_id != address.user_id:
            log.info("whatsapp %s: a %s for survey %s refused: not this customer's", self.profile, what, survey_id)
            return None
        if survey.state is not State.ASKED:
            log.info("whatsapp %s: a %s for survey %s ignored: it is %s", self.profile, what, survey_id, survey.state)
            return None
        return survey
