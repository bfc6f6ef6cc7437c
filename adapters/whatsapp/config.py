"""`profiles.<p>.channels.whatsapp`: one WhatsApp Business phone number per profile (Cloud API)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters.metagraph.client import DEFAULT_API_BASE

NAME = "whatsapp"  # the channel's one name: config key, outbox rows, URLs

# Meta counts a number's inbound messages against its 80 messages/s too, so sends take half of it by default.
DEFAULT_RATE = 40.0
# Meta's pair limit: about one message every 6 s to one customer (10 a minute), in short bursts.
DEFAULT_PER_CUSTOMER_PER_MINUTE = 10.0

LocaleKey = Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})?$")]
ButtonMeaning = Literal["ask"] | Annotated[int, Field(ge=0, le=10)]
BodyValue = Literal["brand", "question"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Template(_Strict):
    """An approved message template for asking outside the 24-hour customer-service window.

    `buttons` says what each of the template's quick-reply buttons does, in the template's order: "ask" (the
    customer agrees to answer: the interactive question follows, now inside the window) or a score 0–10 that the
    tap gives directly. `body` lists the values of the body's variables {{1}}, {{2}}…: the profile's brand or the
    question's text in the survey's language. Both must match the approved template, or Meta refuses the send
    (error 132000 and neighbours: a dead letter and a warning naming the template)."""

    name: str = Field(pattern=r"^[a-z0-9_]{1,512}$")
    language: str = Field(pattern=r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})?$")
    buttons: list[ButtonMeaning] = Field(default_factory=lambda: ["ask"], max_length=10)
    body: list[BodyValue] = Field(default_factory=list, max_length=10)


class Labels(_Strict):
    """The channel's own words in a language npsbot does not ship (its seven have built-in ones)."""

    choose: str = Field(min_length=1, max_length=20)  # the list message's button, which opens the scale
    pick: str = Field(min_length=1, max_length=1024)  # the body of the second step (1 or 2)


class WhatsAppConfig(_Strict):
    app_secret: str = Field(min_length=8)  # the Meta app's secret: X-Hub-Signature-256 of every webhook POST
    verify_token: str = Field(pattern=r"^[\x21-\x7e]{8,256}$")  # chosen by you, typed into the app's webhook setup
    access_token: str = Field(min_length=16)  # a system user's token with whatsapp_business_messaging
    phone_number_id: str = Field(pattern=r"^[0-9]{1,32}$")  # the business number's id (not the phone number)
    api_base: str = Field(DEFAULT_API_BASE, pattern=r"^https?://[^\s?#]+$")  # a test fake, or another version
    rate_per_second: float = Field(DEFAULT_RATE, gt=0, le=1000)
    per_customer_per_minute: float = Field(DEFAULT_PER_CUSTOMER_PER_MINUTE, gt=0, le=6000)
    templates: dict[LocaleKey, Template] = Field(default_factory=dict)
    labels: dict[LocaleKey, Labels] = Field(default_factory=dict)

    @field_validator("api_base")
    @classmethod
    def _no_trailing_slash(cls, v: str) -> str:
        return v.rstrip("/")
