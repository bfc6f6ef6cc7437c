"""The `messages` field of a WhatsApp Business Account webhook, as Meta documents it (see
tests/payloads/meta/SOURCES.md): entry[].changes[].value holds the business number (`metadata`), the customers'
profiles (`contacts`), what they sent (`messages`: text, interactive replies, template quick replies, media,
reactions, stickers, locations, contacts, unsupported) and what became of what we sent (`statuses`).

Every model ignores fields it does not name (Meta adds some often) and bounds what it keeps. A change's messages and
statuses are kept as raw objects and validated one at a time, so one that does not fit costs only itself."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr

MAX_TEXT = 4096  # a WhatsApp text message's limit; more is cut, not refused
MAX_ITEMS = 1000  # Meta batches at most 1000 updates in one request

Wamid = Annotated[StrictStr, Field(min_length=1, max_length=191)]  # the width of question_ref
# A customer's WhatsApp id: the phone number's digits, or a business-scoped user id (letters, digits, dots).
WA_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
WaId = Annotated[StrictStr, Field(pattern=rf"^{WA_ID.pattern}$")]
Kind = Annotated[StrictStr, Field(min_length=1, max_length=32)]


def _text(limit: int) -> Any:
    """Free text: kept when it is a string, cut to `limit`; anything else is dropped."""
    return BeforeValidator(lambda v: v[:limit] if isinstance(v, str) else None)


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Metadata(_Payload):
    phone_number_id: Annotated[StrictStr, Field(min_length=1, max_length=64)]


class Value(_Payload):
    """One change's value; `messages` and `statuses` stay raw until each is read on its own."""

    messaging_product: StrictStr | None = None
    metadata: Metadata
    messages: list[Any] = Field(default_factory=list, max_length=MAX_ITEMS)
    statuses: list[Any] = Field(default_factory=list, max_length=MAX_ITEMS)


class Change(_Payload):
    field: StrictStr
    value: Any = None


class Entry(_Payload):
    id: Annotated[StrictStr, Field(max_length=64)] | None = None
    changes: list[Change] = Field(default_factory=list, max_length=MAX_ITEMS)


class Context(_Payload):
    """The business message a reply answers (a tapped button's message, a quoted message)."""

    id: Wamid | None = None


class Text(_Payload):
    body: Annotated[str | None, _text(MAX_TEXT)] = None


class Choice(_Payload):
    """A tapped reply button or list row: the id we gave it, and its title."""

    id: Annotated[str | None, _text(256)] = None
    title: Annotated[str | None, _text(64)] = None


class Interactive(_Payload):
    type: Kind
    button_reply: Choice | None = None
    list_reply: Choice | None = None

    @property
    def choice(self) -> Choice | None:
        return {"button_reply": self.button_reply, "list_reply": self.list_reply}.get(self.type)


class Button(_Payload):
    """A tap on a template's quick-reply button: the payload we set when sending, and the button's text."""

    payload: Annotated[str | None, _text(256)] = None
    text: Annotated[str | None, _text(64)] = None


class Media(_Payload):
    """Image, video, document, audio or sticker; only a caption is of use (it is text the customer wrote)."""

    caption: Annotated[str | None, _text(MAX_TEXT)] = None


class Reaction(_Payload):
    message_id: Wamid | None = None
    emoji: Annotated[str | None, _text(32)] = None  # absent when the customer removes a reaction


MEDIA = ("image", "video", "document", "audio", "sticker")


class Message(_Payload):
    """One message from a customer."""

    id: Wamid
    from_: WaId = Field(alias="from")
    timestamp: Annotated[StrictStr, Field(pattern=r"^[0-9]{1,12}$")] | None = None
    type: Kind
    context: Context | None = None
    text: Text | None = None
    interactive: Interactive | None = None
    button: Button | None = None
    reaction: Reaction | None = None
    image: Media | None = None
    video: Media | None = None
    document: Media | None = None
    audio: Media | None = None
    sticker: Media | None = None

    def at(self, now: datetime) -> datetime:
        """When the customer wrote, from Meta's timestamp; never later than `now` (the 24-hour window counts from
        the customer's message, and a time in the future would stretch it)."""
        if self.timestamp is None:
            return now
        return min(datetime.fromtimestamp(int(self.timestamp), tz=UTC), now)

    @property
    def caption(self) -> str | None:
        """The text that came with a photo, video or document, if any."""
        media = getattr(self, self.type, None) if self.type in MEDIA else None
        return media.caption if isinstance(media, Media) and media.caption and media.caption.strip() else None


class StatusError(_Payload):
    code: int | None = None


STATUSES = ("sent", "delivered", "read", "failed")


class Status(_Payload):
    """What became of one message we sent."""

    id: Wamid
    status: Kind
    timestamp: Annotated[StrictStr, Field(pattern=r"^[0-9]{1,12}$")] | None = None
    errors: list[StatusError] = Field(default_factory=list, max_length=10)

    def at(self, now: datetime) -> datetime:
        if self.timestamp is None:
            return now
        return min(datetime.fromtimestamp(int(self.timestamp), tz=UTC), now)
