"""One webhook entry of a WhatsApp Business Account → core events, delivery statuses and the customers' last
inbound times. Called by adapters.metagraph's GraphWebhook for each entry of a journaled batch, possibly more than
once (a replay after a crash, or after another entry failed), so everything here is idempotent: each message is
handled under its wamid's key, statuses only move forward, and last inbound times never move back.

- A change for another phone number (the account may have several) is ignored and logged by that number's id.
- Every customer message, whatever its type, records when the customer last wrote (the 24-hour window).
- Text is core's to read (a score in any shipped language, an opt-out, or the comment).
- A tapped row or button names its survey: a score goes to core with that survey, which checks it is this
  profile's and this customer's; "1 – 2" and a template's "ask" queue the next message (adapters.whatsapp.steps).
- A photo, video or document with a caption is text; without one, and a sticker, location, contact card,
  reaction or a message type Cloud API does not carry, gets the re-ask while a score is awaited (core's re-ask,
  within its limit) and is otherwise left alone, so the comment question keeps waiting for words.
- A message or status that does not fit Meta's documented shape is skipped and logged; the others still run."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from adapters.metagraph.webhook import message_key
from adapters.spec import ChannelDeps
from adapters.whatsapp.config import NAME, WhatsAppConfig
from adapters.whatsapp.errors import OUTSIDE_WINDOW, UNREACHABLE
from adapters.whatsapp.payloads import STATUSES, Entry, Message, Status, Value
from adapters.whatsapp.scale import ASK, MORE, Reply, parse_reply
from adapters.whatsapp.steps import Steps
from core.survey import SkipReason, State
from core.types import Address, ScoreGiven, TextReceived

log = logging.getLogger(__name__)
REFUSED = ("no_survey", "not_yours")
M = TypeVar("M", bound=BaseModel)
NO_TEXT = ("image", "video", "document", "audio", "sticker", "location", "contacts", "reaction", "unsupported")


class Inbound:
    def __init__(self, deps: ChannelDeps, config: WhatsAppConfig, steps: Steps) -> None:
        self.deps = deps
        self.service = deps.service
        self.profile = deps.profile
        self.phone_number_id = config.phone_number_id
        self.steps = steps

    async def entry(self, raw: dict[str, Any]) -> None:
        """Every `messages` change of one entry. A message whose handling raised (the database was unreachable) does
        not stop the others; the first such error is raised at the end, so the batch is retried from the journal."""
        entry = _parsed(Entry, raw, self.profile, "an entry")
        if entry is None:
            return
        failure: Exception | None = None
        for change in entry.changes:
            if change.field != "messages":
                continue
            try:
                await self._change(change.value)
            except Exception as exc:
                failure = failure or exc
        if failure is not None:
            raise failure

    async def _change(self, raw: Any) -> None:
        value = _parsed(Value, raw, self.profile, "a change")
        if value is None:
            return
        if value.metadata.phone_number_id != self.phone_number_id:
            log.info("whatsapp %s: a change for phone number id %s (not this profile's) ignored", self.profile,
                     value.metadata.phone_number_id[:32])  # fmt: skip
            return
        now = self.deps.clock()
        messages = _valid(Message, value.messages, self.profile, "message")
        statuses = _valid(Status, value.statuses, self.profile, "status")
        if messages:
            seen = [(m.from_, m.at(now)) for m in messages]
            await self.service.contacts_seen(self.profile, NAME, seen)
        failure: Exception | None = None
        for message in messages:
            try:
                await self.message(message)
            except Exception as exc:
                failure = failure or exc
        for status in statuses:
            try:
                await self.status(status, now)
            except Exception as exc:
                failure = failure or exc
        if failure is not None:
            raise failure

    async def message(self, m: Message) -> None:
        address = Address(NAME, self.profile, m.from_, m.from_)
        key = message_key(NAME, self.profile, m.id)
        reply_to = m.context.id if m.context else None
        if m.type == "text":
            body = m.text.body if m.text else None
            await self.service.handle(TextReceived(address, body or "", reply_to=reply_to), dedup_key=key)
        elif m.type == "interactive" and m.interactive is not None and m.interactive.choice is not None:
            choice = m.interactive.choice
            await self._choice(address, key, parse_reply(choice.id), choice.title, reply_to)
        elif m.type == "button" and m.button is not None:
            await self._choice(address, key, parse_reply(m.button.payload), m.button.text, reply_to)
        elif m.caption is not None:
            await self.service.handle(TextReceived(address, m.caption, reply_to=reply_to), dedup_key=key)
        elif m.type in NO_TEXT or m.type == "interactive":
            if m.type == "reaction" and not (m.reaction and m.reaction.emoji):
                return  # a reaction taken back
            await self._no_text(address, key)

    async def _choice(
        self, address: Address, key: str, reply: Reply | None, title: str | None, reply_to: str | None
    ) -> None:
        if reply is None:  # not one of ours (another app's list, an old message): its title reads like typed text
            await self.service.handle(TextReceived(address, title or "", reply_to=reply_to), dedup_key=key)
            return
        if reply.wants == MORE:
            await self.steps.second_step(address, reply.survey_id)
            return
        if reply.wants == ASK:
            await self.steps.question(address, reply.survey_id)
            return
        assert reply.score is not None
        event = ScoreGiven(address, reply.score, survey_id=reply.survey_id, actor_id=address.user_id)
        out = await self.service.handle(event, dedup_key=key)
        if out.status in REFUSED:
            log.info("whatsapp %s: a reply naming survey %s refused (%s)", self.profile, reply.survey_id, out.status)

    async def _no_text(self, address: Address, key: str) -> None:
        """Nothing to read: re-asked while the score is awaited; left alone while the comment is."""
        survey = await self.steps.waiting(address)
        if survey is not None and survey.state is State.ASKED:
            await self.service.handle(TextReceived(address, ""), dedup_key=key)

    async def status(self, s: Status, now: datetime) -> None:
        """A status of a message we sent; only a question's is recorded (core knows which wamid asked what). A
        question that failed because the window had closed (131047, reported after Meta accepted the send) skips its
        survey as outside_window, as a refusal at send time does; one that could not reach the customer (131026) marks
        them unreachable, as a refusal at send time does too."""
        if s.status not in STATUSES:
            return
        codes = {e.code for e in s.errors if e.code is not None}
        outside, unreachable = codes & OUTSIDE_WINDOW, codes & UNREACHABLE
        why = SkipReason.OUTSIDE_WINDOW if outside else SkipReason.UNREACHABLE if unreachable else None
        if s.status == "failed" and why is not None:  # accepted, then refused: as a refusal at send time
            await self.service.question_failed(self.profile, NAME, s.id, s.at(now), why)
            return
        recorded = await self.service.question_status(self.profile, NAME, s.id, s.status, s.at(now))
        if s.status == "failed":
            shown = ",".join(str(c) for c in sorted(codes)) or "none"
            log.info("whatsapp %s: a message failed (error %s; a question: %s)", self.profile, shown, recorded)


def _parsed(model: type[M], raw: Any, profile: str, what: str) -> M | None:
    """`raw` read as `model`; None, logged without its content, when it does not fit Meta's documented shape."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        log.warning("whatsapp %s: %s is not shaped as Meta documents (%d errors); skipped", profile, what,
                    exc.error_count())  # fmt: skip
        return None


def _valid(model: type[M], items: list[Any], profile: str, what: str) -> list[M]:
    parsed = (_parsed(model, item, profile, f"{what} {index}") for index, item in enumerate(items))
    return [item for item in parsed if item is not None]
