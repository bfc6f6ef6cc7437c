"""A Messenger Platform channel (Messenger, Instagram Direct): one profile's Page or Instagram account, its signed
webhook in, the Send API out. The two packages subclass `MessagingChannel` with what differs: the webhook object, the
id entries name, the node messages are sent from, the text limit, and whether delivery receipts exist.

Inbound: every customer message renews the contact's 24-hour window (`contacts_seen`, one statement per entry);
text is core's to read (a score in any language we ship, then the comment); a quick reply's payload names its survey
and score, which core checks against this profile and this customer; anything without text (an image, a sticker, a
like, a location, audio, a reaction) is passed on as an empty reply, so an open question is asked again; our own
echoes are ignored; delivery and read receipts move the question's status forward. Every message is handled once,
through its mid.

Outbound: inside the window a send is an ordinary `RESPONSE`; outside it, only the operator's configured message tag
(HUMAN_AGENT, within its 7 days) may carry it, else the send raises OutsideWindow and the survey is skipped as
`outside_window`; a refusal by Meta for the window (its clock, or a customer whose messages we never saw) falls back
the same way. Send API errors become the worker's delivery errors (adapters.metagraph.messaging)."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.http import HttpClient
from adapters.metagraph.client import GraphClient, GraphError
from adapters.metagraph.messaging import (
    RESPONSE,
    Entry,
    Failure,
    Messaging,
    Window,
    classify,
    clip,
    delivery_error,
    from_millis,
    quick_replies,
    read_score_payload,
)
from adapters.metagraph.webhook import GraphWebhook, message_key
from adapters.metagraph.window import within_window
from adapters.spec import Channel, ChannelDeps
from core.channel import Delivery, score_labels
from core.delivery import DeliveryError, OutsideWindow, PermanentFailure
from core.inbound_journal import InboundJournal
from core.question_receipts import advance_until
from core.ratelimit import Limit, Rate
from core.types import Address, AskScore, InboundEvent, Say, ScoreGiven, TextReceived

log = logging.getLogger(__name__)
HUMAN_AGENT_WINDOW = timedelta(days=7)  # how long after the customer's last message HUMAN_AGENT may be used
RECIPIENT = re.compile(r"[0-9]{1,64}")  # PSIDs and IGSIDs are numbers
MAX_REF = 191  # the width of question_ref
ACCOUNT_ID = r"^[0-9]{1,64}$"


class MessagingConfig(BaseModel):
    """What every Messenger Platform channel is configured with; the packages add their account ids."""

    model_config = ConfigDict(extra="forbid")

    app_secret: str = Field(min_length=8)  # signs every webhook POST (X-Hub-Signature-256)
    verify_token: str = Field(min_length=8, max_length=256)  # the subscription handshake's shared token
    access_token: str = Field(min_length=10)  # sent as a bearer header, never in a URL
    api_base: str | None = Field(None, pattern=r"^https?://")  # Graph with its version, or a test fake
    # Meta allows no message tag for surveys; HUMAN_AGENT is for a person answering within 7 days. None: outside
    # the 24-hour window a question is not sent and the survey is skipped as outside_window.
    message_tag: Literal["HUMAN_AGENT"] | None = None
    rate_per_second: float = Field(250.0, gt=0)  # sends per second per Page / account (Meta allows 300 for text)
    per_recipient_per_second: float = Field(1.0, gt=0)  # Meta throttles many messages to one thread


class MessagingChannel(HttpClient, Channel):
    """One profile's Page or Instagram account on the Messenger Platform."""

    webhook_object: ClassVar[str]  # the webhook body's `object`: page | instagram
    text_chars: ClassVar[int | None] = None
    text_bytes: ClassVar[int | None] = None

    def __init__(self, deps: ChannelDeps, config: MessagingConfig, *, own_id: str, send_node: str, api_base: str):
        self.profile = deps.profile
        self.service = deps.service
        self.store = deps.store  # through core.question_receipts only
        self.clock = deps.clock
        self.config = config
        self.own_id = own_id  # the id the webhook's entries carry for this profile's account
        self.send_node = send_node  # the node whose `messages` edge sends
        self.api_base = api_base
        self.webhook = GraphWebhook(
            deps,
            channel=self.name,
            path=f"/{self.name}/{self.profile}/webhook",
            verify_token=config.verify_token,
            app_secret=config.app_secret,
            objects=frozenset({self.webhook_object}),
            handle_entry=self.handle_entry,
        )
        self.page_rate = Rate(config.rate_per_second, burst=max(1, min(20, int(config.rate_per_second // 10))))
        self.recipient_rate = Rate(config.per_recipient_per_second)
        self._graph: GraphClient | None = None
        self._token_warned = False

    @property
    def _name(self) -> str:
        return f"{self.name} {self.profile}"

    # ---- lifecycle ---------------------------------------------------------------------------------------------

    def mount(self, app: web.Application) -> None:
        self.webhook.mount(app)

    async def start(self) -> None:
        await HttpClient.start(self)
        await self.webhook.start()

    async def stop(self) -> None:
        await self.webhook.stop()
        await HttpClient.stop(self)
        self._graph = None

    @property
    def journal(self) -> InboundJournal:
        """Where answered webhook bodies wait for their work (the load bench times the work by it)."""
        return self.webhook.journal

    async def idle(self) -> None:
        """Wait until every answered webhook body has been worked (tests, the demo's customers)."""
        await self.webhook.idle()

    async def graph(self) -> GraphClient:
        session = await self.http()
        if self._graph is None or self._graph.session is not session:
            self._graph = GraphClient(session, self.api_base, self.config.access_token)
        return self._graph

    # ---- inbound -----------------------------------------------------------------------------------------------

    async def handle_entry(self, raw: dict[str, Any]) -> None:
        """One webhook entry. A malformed entry or event is logged and skipped (a retry could not help); an error
        storing an event is raised after the entry's other events ran, so the journal retries the entry and the
        events already handled are no-ops through their mids."""
        try:
            entry = Entry.model_validate(raw)
        except ValidationError:
            log.warning("%s: a webhook entry is not Meta's shape; skipped", self._name)
            return
        if entry.id != self.own_id:
            log.info("%s: a webhook entry for another account was ignored", self._name)
            return
        events: list[Messaging] = []
        for item in entry.messaging:
            try:
                events.append(Messaging.model_validate(item))
            except ValidationError:
                log.warning("%s: a messaging event is not Meta's shape; skipped", self._name)
        now = self.clock()
        seen = [(e.sender.id, e.at(now)) for e in events if e.from_customer and e.sender.id != self.own_id]
        if seen:
            await self.service.contacts_seen(self.profile, self.name, seen)
        failed: Exception | None = None
        for event in events:
            try:
                await self.handle_event(event, now)
            except Exception as exc:  # the entry's other events still run; raised below
                failed = failed or exc
        if failed is not None:
            raise failed

    async def handle_event(self, event: Messaging, now: datetime) -> None:
        if event.sender.id == self.own_id:  # something this account sent (an echo), never a customer's reply
            return
        if event.delivery is not None or event.read is not None:
            await self.receipts(event, now)
            return
        parsed = self.customer_event(event)
        if parsed is None:
            return
        inbound, key = parsed
        out = await self.service.handle(inbound, dedup_key=message_key(self.name, self.profile, key))
        if isinstance(inbound, ScoreGiven) and out.status in ("not_yours", "no_survey"):
            log.info("%s: a quick reply naming a survey this customer may not answer was refused", self._name)

    def customer_event(self, event: Messaging) -> tuple[InboundEvent, str] | None:
        """The core event a customer's message, button tap or reaction is, with the id it is deduplicated by."""
        customer = event.sender.id
        address = Address(self.name, self.profile, customer, customer)
        message = event.message
        if message is not None:
            if message.is_echo or message.is_deleted:
                return None
            picked = read_score_payload(message.quick_reply.payload if message.quick_reply else None)
            if picked is not None:
                survey_id, score = picked
                return ScoreGiven(address, score, survey_id=survey_id, actor_id=customer), message.mid
            # No text (media, a sticker, a like, a location, a message Instagram does not carry): an empty reply,
            # which core answers with the question again while the score is open.
            return TextReceived(address, message.text or ""), message.mid
        if event.postback is not None:
            picked = read_score_payload(event.postback.payload)
            if picked is None:  # a menu or Get Started button: nothing a survey waits for
                return None
            key = event.postback.mid or f"postback:{customer}:{event.timestamp}"
            return ScoreGiven(address, picked[1], survey_id=picked[0], actor_id=customer), key
        reaction = event.reaction
        if reaction is not None and reaction.action == "react":
            return TextReceived(address, ""), f"reaction:{reaction.mid}:{customer}:{event.timestamp}"
        return None

    async def receipts(self, event: Messaging, now: datetime) -> None:
        """Delivery and read receipts move the question's status forward. One naming its message (a delivery's
        mids, Instagram's seen mid) moves that question, if it is one; a watermark (Messenger's read receipt, a
        delivery receipt without mids) moves every question this customer was sent before it."""
        at = event.at(now)
        customer = event.sender.id
        if event.delivery is not None:
            for mid in event.delivery.mids:
                await self.service.question_status(self.profile, self.name, mid, "delivered", at)
            if not event.delivery.mids and event.delivery.watermark is not None:
                until = min(from_millis(event.delivery.watermark, now), now)
                await advance_until(self.store, self.profile, self.name, customer, "delivered", until, at)
        if event.read is not None:
            if event.read.mid is not None:
                await self.service.question_status(self.profile, self.name, event.read.mid, "read", at)
            elif event.read.watermark is not None:
                until = min(from_millis(event.read.watermark, now), now)
                await advance_until(self.store, self.profile, self.name, customer, "read", until, at)

    # ---- outbound ----------------------------------------------------------------------------------------------

    def rate_limits(self, delivery: Delivery) -> list[Limit]:
        return [
            (f"{self.name}:{self.send_node}", self.page_rate),
            (f"{self.name}:{self.send_node}:{delivery.conversation_id}", self.recipient_rate),
        ]

    def text(self, text: str) -> str:
        return clip(text, chars=self.text_chars, utf8_bytes=self.text_bytes)

    async def say(self, delivery: Delivery, action: Say) -> str | None:
        return await self.send(delivery, {"text": self.text(action.text)})

    async def ask_score(self, delivery: Delivery, action: AskScore) -> str | None:
        """The question with the scale as 11 quick replies; a tap comes back with its survey and score, typing a
        number works as well. Quick replies disappear once one is tapped, so there is nothing to mark answered."""
        if delivery.survey_id is None:
            return await super().ask_score(delivery, action)
        message = {
            "text": self.text(action.text),
            "quick_replies": quick_replies(delivery.survey_id, score_labels(action)),
        }
        return await self.send(delivery, message)

    async def send(self, delivery: Delivery, message: dict[str, Any]) -> str | None:
        """POST `{api_base}/{node}/messages`; the message id Meta gave it (stored as the question's ref)."""
        recipient = delivery.conversation_id
        if not RECIPIENT.fullmatch(recipient):
            raise PermanentFailure(f"{self.name} recipient is not a scoped user id; nothing sent")
        last = await self.service.last_inbound(self.profile, self.name, delivery.user_id or recipient)
        window = self.window(last)
        try:
            answer = await self.post(recipient, message, window)
        except GraphError as exc:
            kind = classify(exc)
            fallback = self.tag(last) if kind == "window" and window == RESPONSE else None
            if fallback is None:
                raise self.failure(exc, kind) from exc
            try:  # Meta knew the window closed where we did not: the tag may still carry the message
                answer = await self.post(recipient, message, fallback)
            except GraphError as again:
                raise self.failure(again, classify(again)) from again
        self._token_warned = False
        mid = answer.get("message_id")
        return mid if isinstance(mid, str) and 0 < len(mid) <= MAX_REF else None

    async def post(self, recipient: str, message: dict[str, Any], window: Window) -> dict[str, Any]:
        payload = {"recipient": {"id": recipient}, **window.fields(), "message": message}
        return await (await self.graph()).post([self.send_node, "messages"], payload)

    def window(self, last: datetime | None) -> Window:
        """RESPONSE within 24 hours of the customer's last message, or when we never saw one (their messages went
        to a help desk: Meta decides, and its refusal falls back to the tag); else the configured tag within its
        own limit (HUMAN_AGENT: 7 days); else OutsideWindow, and nothing is sent."""
        if last is None or within_window(last, self.clock()):
            return RESPONSE
        tag = self.tag(last)
        if tag is not None:
            return tag
        why = f"{self.config.message_tag} allows 7 days" if self.config.message_tag else "no message tag is configured"
        raise OutsideWindow(f"{self.name}: the customer's last message is over 24 hours old and {why}; nothing sent")

    def tag(self, last: datetime | None) -> Window | None:
        """The configured message tag, where its policy still allows it (Meta checks an unknown last message)."""
        tag = self.config.message_tag
        if tag is None or (last is not None and not within_window(last, self.clock(), HUMAN_AGENT_WINDOW)):
            return None
        return Window("MESSAGE_TAG", tag)

    def failure(self, error: GraphError, kind: Failure) -> DeliveryError:
        if kind == "token" and not self._token_warned:
            self._token_warned = True  # once until a send succeeds again, not once per message
            log.warning("%s: Graph refused the access token (%s); sends fail until it is replaced", self._name, error)
        return delivery_error(error, kind)
