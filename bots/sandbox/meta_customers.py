"""Customers on WhatsApp, Messenger and Instagram for the demo and the tests: webhook bodies shaped exactly as Meta
sends them (developers.facebook.com, see tests/payloads/meta/SOURCES.md), signed with the app secret
(X-Hub-Signature-256) and POSTed to `/{channel}/{profile}/webhook`. The builders below are plain functions, so a test
can also take a body, change it, batch several entries or sign it wrongly on purpose.

WhatsApp (`object: whatsapp_business_account`): entry[].changes[].value with `metadata` (the business phone number),
`contacts` and `messages` for what a customer sends, `statuses` for what became of what the business sent.
Messenger (`object: page`) and Instagram (`object: instagram`): entry[].messaging[] events with sender, recipient,
timestamp (milliseconds) and one of message / delivery / read / reaction / postback."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import ClientSession

from bots.sandbox.customers import Driver, Person, clip
from bots.sandbox.graph_api import FakeGraph, Sent
from bots.sandbox.signing import meta_signature

WHATSAPP_OBJECT, MESSENGER_OBJECT, INSTAGRAM_OBJECT = "whatsapp_business_account", "page", "instagram"
_ids = itertools.count(1)


def _now() -> int:
    return int(time.time())


def _mid(prefix: str) -> str:
    return f"{prefix}{next(_ids):012d}"


# ---- WhatsApp ----------------------------------------------------------------------------------------------------


def whatsapp_body(waba_id: str, values: Sequence[dict[str, Any]], *, more: Sequence[dict[str, Any]] = ()) -> dict:
    """One webhook body: one entry (the WhatsApp Business Account) whose changes carry `values` (field
    `messages`); `more` appends further entries as they are (a batch, or a malformed entry on purpose)."""
    changes = [{"value": value, "field": "messages"} for value in values]
    return {"object": WHATSAPP_OBJECT, "entry": [{"id": waba_id, "changes": changes}, *more]}


def whatsapp_value(
    phone_number_id: str,
    display_phone: str,
    *,
    messages: Sequence[dict[str, Any]] = (),
    contacts: Sequence[tuple[str, str]] = (),
    statuses: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A change's value: `contacts` as (wa_id, profile name) pairs."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_phone, "phone_number_id": phone_number_id},
    }
    if contacts:
        value["contacts"] = [{"profile": {"name": name}, "wa_id": wa_id} for wa_id, name in contacts]
    if messages:
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return value


def wa_message(
    wa_id: str,
    kind: str,
    content: dict[str, Any],
    *,
    mid: str | None = None,
    ts: int | None = None,
    context: str | None = None,
) -> dict[str, Any]:
    """One incoming message of `kind` (text, interactive, button, image, sticker, location, reaction, …) with its
    content object; `context` is the wamid of our message it answers (a button tap carries it)."""
    message: dict[str, Any] = {
        "from": wa_id,
        "id": mid or _mid("wamid.HBgLIN"),
        "timestamp": str(ts or _now()),
        "type": kind,
        kind: content,
    }
    if context is not None:
        message["context"] = {"from": "", "id": context}
    return message


def wa_text(wa_id: str, text: str, **kw: Any) -> dict[str, Any]:
    return wa_message(wa_id, "text", {"body": text}, **kw)


def wa_button_reply(wa_id: str, button_id: str, title: str, context: str, **kw: Any) -> dict[str, Any]:
    """A tap on an interactive message's reply button."""
    content = {"type": "button_reply", "button_reply": {"id": button_id, "title": title}}
    return wa_message(wa_id, "interactive", content, context=context, **kw)


def wa_list_reply(
    wa_id: str, row_id: str, title: str, context: str, description: str | None = None, **kw: Any
) -> dict[str, Any]:
    """A pick in an interactive list message."""
    row = {"id": row_id, "title": title} | ({"description": description} if description else {})
    return wa_message(wa_id, "interactive", {"type": "list_reply", "list_reply": row}, context=context, **kw)


def wa_template_button(wa_id: str, payload: str, text: str, context: str, **kw: Any) -> dict[str, Any]:
    """A tap on a template's quick-reply button (type `button`, not `interactive`)."""
    return wa_message(wa_id, "button", {"payload": payload, "text": text}, context=context, **kw)


def wa_media(wa_id: str, kind: str, **kw: Any) -> dict[str, Any]:
    """A message that is no text: image, sticker, audio, video, document, location or reaction."""
    contents = {
        "image": {"mime_type": "image/jpeg", "sha256": "ZmFrZQ==", "id": "1003383421387256"},
        "sticker": {"mime_type": "image/webp", "sha256": "ZmFrZQ==", "id": "1003383421387257", "animated": False},
        "audio": {
            "mime_type": "audio/ogg; codecs=opus",
            "sha256": "ZmFrZQ==",
            "id": "1003383421387258",
            "voice": True,
        },
        "video": {"mime_type": "video/mp4", "sha256": "ZmFrZQ==", "id": "1003383421387259"},
        "document": {
            "mime_type": "application/pdf",
            "sha256": "ZmFrZQ==",
            "id": "1003383421387260",
            "filename": "invoice.pdf",
        },
        "location": {"latitude": 38.7223, "longitude": -9.1393, "name": "Praça do Comércio"},
        "reaction": {"message_id": "wamid.HBgLOUTBOUND", "emoji": "\U0001f44d"},
    }
    return wa_message(wa_id, kind, contents[kind], **kw)


def wa_status(
    wamid: str,
    status: str,
    recipient: str,
    *,
    ts: int | None = None,
    error_code: int | None = None,
    error_title: str = "Message undeliverable",
) -> dict[str, Any]:
    """What became of a message we sent: sent, delivered, read or failed (with Meta's error)."""
    out: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(ts or _now()), "recipient_id": recipient}
    if status in ("sent", "delivered"):
        out["conversation"] = {"id": "4c8c1b9c8a8d1e0f", "origin": {"type": "service"}}
        out["pricing"] = {
            "billable": False,
            "pricing_model": "PMP",
            "category": "service",
            "type": "free_customer_service",
        }
    if status == "failed" and error_code is not None:
        details = {"details": error_title}
        out["errors"] = [{"code": error_code, "title": error_title, "message": error_title, "error_data": details}]
    return out


# ---- Messenger and Instagram -------------------------------------------------------------------------------------


def messaging_body(
    obj: str, page_id: str, events: Sequence[dict[str, Any]], *, more: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """One webhook body for Messenger (`page`) or Instagram (`instagram`): one entry for the Page or the Instagram
    account with its `messaging` events; `more` appends further entries as they are."""
    entry = {"id": page_id, "time": int(time.time() * 1000), "messaging": list(events)}
    return {"object": obj, "entry": [entry, *more]}


def _event(sender: str, recipient: str, ts_ms: int | None, **what: Any) -> dict[str, Any]:
    stamp = ts_ms if ts_ms is not None else int(time.time() * 1000)
    return {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": stamp, **what}


def messaging_text(
    psid: str,
    page_id: str,
    text: str,
    *,
    mid: str | None = None,
    quick_reply: str | None = None,
    reply_to: str | None = None,
    ts_ms: int | None = None,
) -> dict[str, Any]:
    """A customer's text; `quick_reply` is the payload of the quick reply they tapped (its title is the text)."""
    message: dict[str, Any] = {"mid": mid or _mid("m_IN"), "text": text}
    if quick_reply is not None:
        message["quick_reply"] = {"payload": quick_reply}
    if reply_to is not None:
        message["reply_to"] = {"mid": reply_to}
    return _event(psid, page_id, ts_ms, message=message)


def messaging_attachment(
    psid: str, page_id: str, kind: str, *, mid: str | None = None, ts_ms: int | None = None
) -> dict[str, Any]:
    """A message with an attachment and no text: image, audio, video, file, sticker (an image with a sticker id)
    or a shared location (a `fallback` / `location` attachment, depending on the client)."""
    payload: dict[str, Any] = {"url": "https://scontent.example/attachment.jpg"}
    if kind == "sticker":
        kind, payload = "image", {"url": "https://scontent.example/sticker.png", "sticker_id": 369239263222822}
    if kind == "location":
        payload = {"coordinates": {"lat": 38.7223, "long": -9.1393}}
    message = {"mid": mid or _mid("m_IN"), "attachments": [{"type": kind, "payload": payload}]}
    return _event(psid, page_id, ts_ms, message=message)


def messaging_delivery(psid: str, page_id: str, mids: Sequence[str], watermark: int) -> dict[str, Any]:
    """Messenger's message_deliveries: `mids` delivered, and everything sent before `watermark` (ms)."""
    return _event(psid, page_id, watermark, delivery={"mids": list(mids), "watermark": watermark})


def messaging_read(psid: str, page_id: str, watermark: int, *, mid: str | None = None) -> dict[str, Any]:
    """Messenger's message_reads (`watermark`: everything sent until then was read); Instagram's messaging_seen
    names the message read (`mid`)."""
    read: dict[str, Any] = {"watermark": watermark}
    if mid is not None:
        read = {"mid": mid}
    return _event(psid, page_id, watermark, read=read)


def messaging_reaction(psid: str, page_id: str, mid: str, emoji: str = "\u2764\ufe0f") -> dict[str, Any]:
    reaction = {"reaction": "love", "emoji": emoji, "action": "react", "mid": mid}
    return _event(psid, page_id, None, reaction=reaction)


def messaging_echo(page_id: str, psid: str, text: str, *, mid: str | None = None) -> dict[str, Any]:
    """The Page's own message coming back (message_echoes; on Instagram part of `messages`): not a customer's."""
    message = {"mid": mid or _mid("m_ECHO"), "is_echo": True, "app_id": 1517776481860111, "text": text}
    return _event(page_id, psid, None, message=message)


def messaging_postback(psid: str, page_id: str, payload: str, title: str, *, mid: str | None = None) -> dict:
    return _event(psid, page_id, None, postback={"mid": mid or _mid("m_PB"), "title": title, "payload": payload})


# ---- signing and the driver ---------------------------------------------------------------------------------------


def signed(app_secret: str, payload: dict[str, Any] | bytes) -> tuple[bytes, dict[str, str]]:
    """Body and headers as Meta sends them: JSON, and X-Hub-Signature-256 over the exact bytes."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(app_secret, body)}


def options_of(sent: Sent) -> list[tuple[str, str]]:
    """(id or payload, title) of every choice a message we sent offers: WhatsApp reply buttons and list rows,
    Messenger and Instagram quick replies."""
    message = sent.json.get("message") or {}
    out = [(str(q.get("payload", "")), str(q.get("title", ""))) for q in message.get("quick_replies") or []]
    action = (sent.json.get("interactive") or {}).get("action") or {}
    for button in action.get("buttons") or []:
        reply = button.get("reply") or {}
        out.append((str(reply.get("id", "")), str(reply.get("title", ""))))
    for section in action.get("sections") or []:
        out.extend((str(r.get("id", "")), str(r.get("title", ""))) for r in section.get("rows") or [])
    return out


def text_of(sent: Sent) -> str:
    """What a message we sent says, as a transcript shows it."""
    j = sent.json
    if j.get("type") == "text":
        return str((j.get("text") or {}).get("body", ""))
    if j.get("type") == "interactive":
        return str(((j.get("interactive") or {}).get("body") or {}).get("text", ""))
    if j.get("type") == "template":
        template = j.get("template") or {}
        return f"template {template.get('name')} ({(template.get('language') or {}).get('code')})"
    return str((j.get("message") or {}).get("text", ""))


class MetaCustomers(Driver):
    """Customers of one profile's WhatsApp number, Facebook Page or Instagram account. A conversation is the
    customer's id (wa_id, PSID or IGSID), as the channels address them. `business_id` is the phone-number id or
    the page / Instagram account id; `idle` waits until the app has worked what it answered."""

    def __init__(
        self,
        http: ClientSession,
        base_url: str,
        channel: str,
        profile: str,
        app_secret: str,
        fake: FakeGraph,
        business_id: str,
        idle: Callable[[], Awaitable[None]] | None = None,
        *,
        display_phone: str = "15550783881",
        waba_id: str = "102290129340398",
    ) -> None:
        super().__init__(http, base_url)
        self.channel, self.path, self.app_secret = channel, f"/{channel}/{profile}/webhook", app_secret
        self.fake, self.business_id, self.idle = fake, business_id, idle
        self.display_phone, self.waba_id = display_phone, waba_id
        self.object = {"whatsapp": WHATSAPP_OBJECT, "instagram": INSTAGRAM_OBJECT}.get(channel, MESSENGER_OBJECT)

    def recorded(self) -> int:
        return len(self.fake.sent)

    async def post(self, conversation: str, note: str, payload: dict[str, Any]) -> None:
        """One signed webhook; waits for the work when `idle` was given (Meta gets its 200 first)."""
        body, headers = signed(self.app_secret, payload)
        await self._post(conversation, note, self.path, body, headers)
        if self.idle is not None:
            await self.idle()

    def _whatsapp(self, customer: Person, message: dict[str, Any]) -> dict[str, Any]:
        value = whatsapp_value(
            self.business_id, self.display_phone, messages=[message], contacts=[(str(customer.key), customer.name)]
        )
        return whatsapp_body(self.waba_id, [value])

    def _messaging(self, events: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return messaging_body(self.object, self.business_id, events)

    async def write(self, conversation: str, customer: Person, text: str) -> None:
        key = str(customer.key)
        if self.object == WHATSAPP_OBJECT:
            payload = self._whatsapp(customer, wa_text(key, text))
        else:
            payload = self._messaging([messaging_text(key, self.business_id, text)])
        await self.post(conversation, f'message from {customer.name}: "{clip(text)}"', payload)

    def last_with_options(self, customer: Person) -> Sent:
        return next(s for s in reversed(self.fake.of(to=str(customer.key))) if options_of(s))

    async def choose(self, conversation: str, customer: Person, title: str) -> None:
        """Tap the choice titled `title` (or starting with it) on the last message to the customer that offered
        choices: a WhatsApp reply button, list row or template button, a Messenger / Instagram quick reply."""
        sent = self.last_with_options(customer)
        options = options_of(sent)
        exact = [o for o in options if o[1] == title]  # "1" is the button 1 before the row "10 · Very likely"
        option_id, shown = next(iter(exact or [o for o in options if o[1].startswith(title)]), ("", ""))
        if not shown:
            raise LookupError(f"no choice titled {title!r} in the last message offering choices")
        key, context = str(customer.key), sent.message_id or ""
        if self.object == WHATSAPP_OBJECT:
            if sent.json.get("type") == "template":
                message = wa_template_button(key, option_id, shown, context)
            elif (sent.json.get("interactive") or {}).get("type") == "list":
                message = wa_list_reply(key, option_id, shown, context)
            else:
                message = wa_button_reply(key, option_id, shown, context)
            payload = self._whatsapp(customer, message)
        else:
            payload = self._messaging([messaging_text(key, self.business_id, shown, quick_reply=option_id)])
        await self.post(conversation, f'{customer.name} taps "{shown}"', payload)

    async def tap(self, conversation: str, customer: Person, score: int) -> None:
        """Tap the score where the last question shows it as one choice."""
        await self.choose(conversation, customer, str(score))

    async def status(self, conversation: str, customer: Person, status: str, sent: Sent | None = None) -> None:
        """What became of the last message to the customer (or `sent`): WhatsApp `statuses`, Messenger's delivery
        and read receipts, Instagram's messaging_seen."""
        sent = sent or self.fake.of(to=str(customer.key))[-1]
        mid, key, now_ms = sent.message_id or "", str(customer.key), int(time.time() * 1000)
        if self.object == WHATSAPP_OBJECT:
            value = whatsapp_value(self.business_id, self.display_phone, statuses=[wa_status(mid, status, key)])
            payload = whatsapp_body(self.waba_id, [value])
        elif status == "delivered":
            payload = self._messaging([messaging_delivery(key, self.business_id, [mid], now_ms)])
        else:
            read_mid = mid if self.object == INSTAGRAM_OBJECT else None
            payload = self._messaging([messaging_read(key, self.business_id, now_ms, mid=read_mid)])
        await self.post(conversation, f"{status} receipt for {mid}", payload)

    def calls(self, conversation: str) -> list[tuple[int, str]]:
        out = []
        for i, sent in enumerate(self.fake.sent):
            if sent.to != conversation:
                continue
            options = [title for _, title in options_of(sent)]
            shown = f" [{'] ['.join(options)}]" if options else ""
            out.append((i, f'{self.channel} message "{clip(text_of(sent))}"{shown}'))
        return out
