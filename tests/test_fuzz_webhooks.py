"""Fuzz of the HTTP channels that are not a chat platform's own: the Standard Webhooks endpoint
`POST /webhook/{profile}/events` (signed), Chatwoot's `POST /chatwoot/{profile}?token=` and the memory trial endpoint
`POST /memory/{profile}` (bearer token). Payloads start from each one's documented shape and are mutated. Never a
5xx, and a refused request (4xx) changes no survey and stores nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz_server import (
    BACKENDS,
    CHATWOOT_TOKEN,
    CUSTOMERS,
    MEMORY_TOKEN,
    WEBHOOK_SECRET,
    FuzzApp,
    fuzz_settings,
    open_app,
)
from tests.fuzz_values import (
    HEADER_TEXT,
    RARELY,
    any_json,
    extra_headers,
    fresh,
    json_bytes,
    mutated,
    odd_dates,
    odd_ints,
    odd_text,
    query_strings,
)
from tests.webhook_signing import signed

app = pytest.fixture(scope="module", params=BACKENDS)(open_app)
WORDS = ["9", "nine", "10 · Very likely", "0", "stop", "great service", "nueve", ""]
HEADERS = ["Content-Type", "Idempotency-Key", "X-Forwarded-For", "Accept", "webhook-timestamp"]


@st.composite
def customer(draw: st.DrawFn, channel: str) -> tuple[Any, Any]:
    """Mostly a seeded customer (their survey is there to act on), else anyone."""
    if draw(RARELY):
        odd = odd_ints() if channel == "chatwoot" else odd_text()
        return draw(odd), draw(odd)
    conv, user, _ = draw(st.sampled_from(CUSTOMERS[channel]))
    return (int(conv), int(user)) if channel == "chatwoot" else (conv, user)


@st.composite
def webhook_events(draw: st.DrawFn, survey_ids: list[int]) -> dict[str, Any]:
    conv, contact = draw(customer("webhook"))
    kind = draw(st.sampled_from(["conversation.closed", "message.received", "conversation.reopened"]))
    data: dict[str, Any] = {"conversation_id": conv, "contact_id": contact}
    if kind == "conversation.closed":
        locale, metadata = draw(st.sampled_from(["en", "es-ES", "zz"])), st.dictionaries(odd_text(), any_json())
        data |= {"agent": "Ana", "team": "billing", "locale": locale, "customer_name": draw(odd_text()),
                 "case_id": draw(odd_text()), "metadata": draw(metadata)}  # fmt: skip
    elif kind == "message.received":
        if draw(st.booleans()):
            data |= {"option": draw(st.one_of(st.integers(0, 10), odd_ints())),
                     "survey_id": draw(st.one_of(st.sampled_from(survey_ids), odd_ints()))}  # fmt: skip
        else:
            data["text"] = draw(st.one_of(st.sampled_from(WORDS), odd_text()))
    return {"type": kind, "data": data}


def test_signed_webhook_events(app: FuzzApp) -> None:
    survey_ids = app.ids("webhook")

    @fuzz_settings(app.backend)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        event = data.draw(mutated(data.draw(webhook_events(survey_ids))))
        msg_id, stamp = f"msg_{fresh()}", int(time.time())
        if data.draw(RARELY):  # mostly signed as a sender would, so the body is read
            msg_id, stamp = data.draw(HEADER_TEXT), data.draw(odd_ints())
        body, headers = signed(WEBHOOK_SECRET, data.draw(json_bytes(event)), msg_id=msg_id, ts=stamp)
        headers = {**data.draw(extra_headers(HEADERS)), **headers} if data.draw(st.booleans()) else headers
        app.exchange("POST", "/webhook/acme/events", body=body, headers=headers, query=data.draw(query_strings({})))

    check()


def person(contact: str) -> dict[str, Any]:
    return {"id": contact, "name": "Elena Ruiz", "type": "contact", "additional_attributes": {"language": "es"}}


@st.composite
def chatwoot_events(draw: st.DrawFn) -> dict[str, Any]:
    """Chatwoot's webhook bodies for a conversation resolved or reopened, and for a customer's message."""
    conv_id, contact = draw(customer("chatwoot"))
    if draw(st.booleans()):
        return {
            "event": "message_created",
            "id": draw(odd_ints()) if draw(RARELY) else fresh(),
            "content": draw(st.one_of(st.sampled_from(WORDS), odd_text())),
            "message_type": "incoming",
            "private": False,
            "sender": person(contact),
            "conversation": {"id": conv_id},
        }
    return {
        "event": draw(st.sampled_from(["conversation_status_changed", "conversation_resolved", "conversation_opened"])),
        "id": conv_id,
        "status": draw(st.sampled_from(["resolved", "open", "pending"])),
        "timestamp": draw(st.one_of(odd_dates(), odd_ints())) if draw(RARELY) else fresh(),
        "meta": {"sender": person(contact), "assignee": {"name": "Ana"}, "team": {"name": "billing"}},
        "additional_attributes": {"browser_language": "es"},
        "inbox_id": 1,
        "channel": "Channel::WebWidget",
    }


def test_chatwoot_events(app: FuzzApp) -> None:
    @fuzz_settings(app.backend)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        event = data.draw(mutated(data.draw(chatwoot_events())))
        query, headers = data.draw(query_strings({})), {"Content-Type": "application/json"}
        if data.draw(st.booleans()):
            query = f"token={CHATWOOT_TOKEN}" + (f"&{query}" if query else "")
        else:
            headers["X-Npsbot-Token"] = CHATWOOT_TOKEN
        app.exchange("POST", "/chatwoot/acme", body=data.draw(json_bytes(event)), headers=headers, query=query)

    check()


@st.composite
def trial_events(draw: st.DrawFn, survey_ids: list[int]) -> dict[str, Any]:
    conv, user = draw(customer("memory"))
    kind = draw(st.sampled_from(["close", "message", "tap", "reopen"]))
    event: dict[str, Any] = {"type": kind, "conversation_id": conv, "user_id": user,
                             "id": str(fresh())}  # fmt: skip
    if kind == "close":
        event |= {"agent": "Ana", "team": "billing", "locale": "es", "name": draw(odd_text())}
    elif kind == "message":
        event["text"] = draw(st.one_of(st.sampled_from(WORDS), odd_text()))
    elif kind == "tap":
        event |= {"score": draw(st.one_of(st.integers(0, 10), odd_ints())),
                  "survey_id": draw(st.one_of(st.sampled_from(survey_ids), odd_ints()))}  # fmt: skip
    return event


def test_memory_trial_endpoint(app: FuzzApp) -> None:
    survey_ids = app.ids("memory")

    @fuzz_settings(app.backend)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        event = data.draw(mutated(data.draw(trial_events(survey_ids))))
        profile = data.draw(st.sampled_from(["acme", "acme", "beta"]))
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {MEMORY_TOKEN}"}
        query = data.draw(query_strings({}))
        app.exchange("POST", f"/memory/{profile}", body=data.draw(json_bytes(event)), headers=headers, query=query)

    check()
