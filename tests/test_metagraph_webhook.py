"""Meta's Graph webhook as every Meta channel mounts it (adapters.metagraph.webhook), over a real server on
127.0.0.1 with bodies shaped and signed as Meta sends them (bots.sandbox.meta_customers): the verification
handshake, X-Hub-Signature-256 before anything is parsed, 413 / 400 for oversized or malformed bodies with nothing
stored, the answer once the body is journaled and the work after it, a crash between the two replayed by the next
process, a bad entry that costs the rest of its batch nothing, and a message Meta delivers twice handled once."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from adapters.metagraph.webhook import GraphWebhook, message_key, read_batch, signature_valid
from adapters.spec import ChannelDeps
from bots.sandbox.meta_customers import (
    INSTAGRAM_OBJECT,
    MESSENGER_OBJECT,
    WHATSAPP_OBJECT,
    messaging_body,
    messaging_delivery,
    messaging_read,
    messaging_text,
    signed,
    wa_button_reply,
    wa_list_reply,
    wa_status,
    wa_template_button,
    wa_text,
    whatsapp_body,
    whatsapp_value,
)
from bots.sandbox.signing import meta_signature
from core.profiles import ProfileSettings
from core.service import SurveyService
from core.store import Store
from core.store.tables import ContactRow, OutboxRow, SurveyRow
from core.survey import Policy
from core.types import Address, ConversationClosed, TextReceived
from tests.conftest import FakeClock

CHANNEL, PROFILE, SECRET, VERIFY = "whatsapp", "acme", "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "verify-me-7f3a"
PATH = f"/{CHANNEL}/{PROFILE}/webhook"
PHONE_ID, DISPLAY, WABA = "106540352242922", "15550783881", "102290129340398"
LEASE = timedelta(seconds=60)
EXAMPLES = Path(__file__).parent / "payloads" / "meta"
S, C, OB = SurveyRow.__table__, ContactRow.__table__, OutboxRow.__table__


class TinyWhatsApp:
    """What a channel brings to the base: how one entry is read. This one records every customer's message time and
    hands each text to the survey service under its message key; `hold` keeps entries waiting (a process stuck or
    about to die), an entry without `changes` raises (a bad entry)."""

    def __init__(self, store: Store, clock: FakeClock, *, max_body: int | None = None) -> None:
        settings = ProfileSettings(PROFILE, Policy(brand="Acme", throttle=timedelta(0)))
        self.service = SurveyService(store, {PROFILE: settings}, clock)
        deps = ChannelDeps(PROFILE, settings, self.service, store, clock, None, LEASE)
        extra = {} if max_body is None else {"max_body": max_body}
        self.hook = GraphWebhook(
            deps, channel=CHANNEL, path=PATH, verify_token=VERIFY, app_secret=SECRET,
            objects=frozenset({WHATSAPP_OBJECT}), handle_entry=self.entry, **extra,
        )  # fmt: skip
        self.hold: asyncio.Event | None = None
        self.handled: list[str] = []  # message ids, each time an entry ran

    async def entry(self, entry: dict[str, Any]) -> None:
        if self.hold is not None:
            await self.hold.wait()
        for change in entry["changes"]:
            messages = change["value"].get("messages", [])
            seen = [(m["from"], datetime.fromtimestamp(int(m["timestamp"]), UTC)) for m in messages]
            await self.service.contacts_seen(PROFILE, CHANNEL, seen)
            for m in messages:
                self.handled.append(m["id"])
                event = TextReceived(Address(CHANNEL, PROFILE, m["from"], m["from"]), m["text"]["body"])
                await self.service.handle(event, dedup_key=message_key(CHANNEL, PROFILE, m["id"]))


@pytest.fixture
async def tiny(store: Store, clock: FakeClock) -> AsyncIterator[TinyWhatsApp]:
    channel = TinyWhatsApp(store, clock)
    yield channel
    await channel.hook.stop()


@asynccontextmanager
async def serve(channel: TinyWhatsApp, **app_options: Any) -> AsyncIterator[TestClient]:
    app = web.Application(**app_options)
    channel.hook.mount(app)
    async with TestClient(TestServer(app)) as client:
        yield client


def text_body(*messages: tuple[str, str, str], ts: int = 1772441000) -> dict[str, Any]:
    """One WhatsApp entry with a text message per (wa_id, wamid, text)."""
    contacts = [(wa_id, "Customer") for wa_id, _, _ in messages]
    value = whatsapp_value(PHONE_ID, DISPLAY, messages=[wa_text(w, t, mid=m, ts=ts) for w, m, t in messages],
                           contacts=contacts)  # fmt: skip
    return whatsapp_body(WABA, [value])


async def post(client: TestClient, payload: dict[str, Any] | bytes, **headers: str) -> tuple[int, str]:
    body, signed_headers = signed(SECRET, payload)
    resp = await client.post(PATH, data=body, headers={**signed_headers, **headers})
    return resp.status, await resp.text()


async def stored(store: Store) -> dict[str, Any]:
    async with store.read() as conn:
        return {
            "surveys": [tuple(r) for r in await conn.execute(select(S.c.conversation_id, S.c.state, S.c.score))],
            "contacts": [tuple(r) for r in await conn.execute(select(C.c.user_id, C.c.last_inbound_at))],
            "outbox": [r[0] for r in await conn.execute(select(OB.c.kind).order_by(OB.c.id))],
        }


async def close(tiny: TinyWhatsApp, wa_id: str) -> None:
    await tiny.service.handle(ConversationClosed(Address(CHANNEL, PROFILE, wa_id, wa_id)))


# ---- the verification handshake ----------------------------------------------------------------------------------


async def test_the_handshake_answers_the_challenge_as_plain_text(tiny: TinyWhatsApp) -> None:
    async with serve(tiny) as client:
        query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"}
        resp = await client.get(PATH, params=query)
        assert (resp.status, resp.content_type, await resp.text()) == (200, "text/plain", "1158201444")


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1158201444"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"},
        {"hub.verify_token": VERIFY, "hub.challenge": "1158201444"},
        {"hub.mode": "subscribe", "hub.challenge": "1158201444"},
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY[:-1], "hub.challenge": "1"},
        {},
    ],
)
async def test_a_wrong_or_missing_token_or_mode_is_refused(tiny: TinyWhatsApp, query: dict[str, str]) -> None:
    async with serve(tiny) as client:
        resp = await client.get(PATH, params=query)
        assert resp.status == 403
        assert "1158201444" not in await resp.text()


@pytest.mark.parametrize("challenge", [None, "", "x" * 257, "line\nbreak"])
async def test_a_missing_or_malformed_challenge_is_400(tiny: TinyWhatsApp, challenge: str | None) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY}
    if challenge is not None:
        query["hub.challenge"] = challenge
    async with serve(tiny) as client:
        assert (await client.get(PATH, params=query)).status == 400


# ---- what is refused, unparsed and unstored -----------------------------------------------------------------------


def test_the_signature_is_the_hmac_of_the_raw_body() -> None:
    body = json.dumps(text_body(("16505551234", "wamid.A", "9"))).encode()
    header = meta_signature(SECRET, body)
    assert header.startswith("sha256=") and len(header) == len("sha256=") + 64
    assert signature_valid(body, header, SECRET)
    assert signature_valid(body, header.upper().replace("SHA256=", "sha256="), SECRET)  # hex in either case
    assert not signature_valid(body + b" ", header, SECRET)
    assert not signature_valid(body, meta_signature("another-app-secret", body), SECRET)
    for bad in (None, "", "sha256=", header.removeprefix("sha256="), "sha1=" + header[7:47], "sha256=zz", "sha256=é"):
        assert not signature_valid(body, bad, SECRET)
    assert not signature_valid(body, header, "")


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Hub-Signature-256": ""},
        {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        {"X-Hub-Signature-256": meta_signature("another-app-secret", b"{}")},
        {"X-Hub-Signature": "sha1=" + "0" * 40, "X-Hub-Signature-256": "sha256=nothex"},
    ],
)
async def test_a_missing_or_wrong_signature_is_401_and_nothing_is_stored(
    tiny: TinyWhatsApp, store: Store, headers: dict[str, str]
) -> None:
    async with serve(tiny) as client:
        status, text = await post(client, text_body(("16505551234", "wamid.A", "9")), **headers)
        assert status == 401 and "X-Hub-Signature-256" in text
        unsigned = await client.post(PATH, data=json.dumps(text_body(("16505551234", "wamid.A", "9"))))
        assert unsigned.status == 401
    assert await tiny.hook.journal.entries() == []
    assert await stored(store) == {"surveys": [], "contacts": [], "outbox": []}


async def test_an_unsigned_body_is_refused_before_it_is_read_as_json(tiny: TinyWhatsApp) -> None:
    async with serve(tiny) as client:
        resp = await client.post(PATH, data=b"{not json", headers={"X-Hub-Signature-256": "sha256=" + "1" * 64})
        assert resp.status == 401  # not 400: unsigned input is never parsed


async def test_an_oversized_body_is_413_whether_declared_or_not(store: Store, clock: FakeClock) -> None:
    tiny = TinyWhatsApp(store, clock, max_body=2048)
    big = text_body(("16505551234", "wamid.A", "x" * 4000))
    async with serve(tiny) as client:
        assert (await post(client, big))[0] == 413

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the size is known only once read
            body, _ = signed(SECRET, big)
            yield body

        _, headers = signed(SECRET, big)
        resp = await client.post(PATH, data=chunks(), headers=headers)
        assert resp.status == 413
    async with serve(TinyWhatsApp(store, clock), client_max_size=1024) as client:  # the server's own cap
        assert (await post(client, big))[0] == 413
    assert await tiny.hook.journal.entries() == []


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"{not json", "malformed JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b'{"object": "whatsapp_business_account", "entry": [' * 40 + b"]}" * 40, "nested deeper"),
        (b"[1, 2]", "JSON object"),
        (b'{"entry": []}', "object missing"),
        (b'{"object": 7, "entry": []}', "object missing"),
        (json.dumps(messaging_body(MESSENGER_OBJECT, "1", [messaging_text("2", "1", "hi")])).encode(), "'page'"),
        (b'{"object": "whatsapp_business_account"}', "entry must be a list"),
        (b'{"object": "whatsapp_business_account", "entry": {"id": "1"}}', "entry must be a list"),
    ],
)
async def test_signed_but_malformed_or_unknown_bodies_are_400_and_nothing_is_stored(
    tiny: TinyWhatsApp, store: Store, payload: bytes, why: str
) -> None:
    async with serve(tiny) as client:
        status, text = await post(client, payload)
        assert status == 400 and why in json.loads(text)["error"]
    assert await tiny.hook.journal.entries() == []
    assert await stored(store) == {"surveys": [], "contacts": [], "outbox": []}


async def test_a_body_with_no_entries_is_answered_and_not_journaled(tiny: TinyWhatsApp) -> None:
    async with serve(tiny) as client:
        assert (await post(client, {"object": WHATSAPP_OBJECT, "entry": []}))[0] == 200
    assert await tiny.hook.journal.entries() == []


async def test_another_profiles_path_is_404_by_routing(tiny: TinyWhatsApp) -> None:
    async with serve(tiny) as client:
        body, headers = signed(SECRET, text_body(("16505551234", "wamid.A", "9")))
        assert (await client.post(f"/{CHANNEL}/other/webhook", data=body, headers=headers)).status == 404
        assert (await client.get(f"/{CHANNEL}/other/webhook")).status == 404


# ---- answer first, work later --------------------------------------------------------------------------------------


async def test_the_answer_comes_once_the_body_is_journaled_and_the_work_follows(
    tiny: TinyWhatsApp, store: Store
) -> None:
    await close(tiny, "16505551234")
    tiny.hold = asyncio.Event()
    async with serve(tiny) as client:
        status, text = await post(client, text_body(("16505551234", "wamid.HBgLMTY1MDUA", "9")))
        assert (status, json.loads(text)) == (200, {"status": "received"})
        [row] = await tiny.hook.journal.entries()  # committed before the answer, while the work still waits
        assert (row["channel"], row["profile"], row["status"]) == (CHANNEL, PROFILE, "pending")
        assert (await stored(store))["surveys"] == [("16505551234", "asked", None)]
        tiny.hold.set()
        await tiny.hook.idle()
    assert await tiny.hook.journal.entries() == []
    after = await stored(store)
    assert after["surveys"] == [("16505551234", "scored", 9)]
    assert after["contacts"] == [("16505551234", datetime.fromtimestamp(1772441000, UTC))]


async def test_a_crash_between_the_answer_and_the_work_is_replayed_by_the_next_process(
    store: Store, clock: FakeClock
) -> None:
    first = TinyWhatsApp(store, clock)
    await close(first, "16505551234")
    first.hold = asyncio.Event()  # never set: this process dies before the work
    async with serve(first) as client:
        assert (await post(client, text_body(("16505551234", "wamid.CRASH", "10"))))[0] == 200
    other_store = Store(store.url)
    try:
        second = TinyWhatsApp(other_store, clock)
        assert await second.hook.journal.recover() == 0  # still leased by the first process
        clock.advance(seconds=LEASE.total_seconds() + 1)
        await second.hook.start()
        await second.hook.idle()
        await second.hook.stop()
    finally:
        await other_store.dispose()
    assert second.handled == ["wamid.CRASH"] and first.handled == []
    assert (await stored(store))["surveys"] == [("16505551234", "scored", 10)]
    assert await first.hook.journal.entries() == []
    await first.hook.stop(grace=0)


async def test_one_bad_entry_costs_the_rest_of_its_batch_nothing_and_is_retried_without_repeating_them(
    tiny: TinyWhatsApp, store: Store, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="adapters.metagraph.webhook")
    for wa_id in ("31611111111", "31622222222"):
        await close(tiny, wa_id)
    good = text_body(("31611111111", "wamid.ONE", "8"))["entry"][0]
    other = text_body(("31622222222", "wamid.TWO", "3"))["entry"][0]
    bad = {"id": WABA, "time": 1772441000, "messages": "a private message in the wrong place"}  # no `changes`
    async with serve(tiny) as client:
        payload = {"object": WHATSAPP_OBJECT, "entry": [good, bad, "not an entry", other]}
        assert (await post(client, payload))[0] == 200
        await tiny.hook.idle()
    assert tiny.handled == ["wamid.ONE", "wamid.TWO"]
    assert sorted((await stored(store))["surveys"]) == [("31611111111", "scored", 8), ("31622222222", "scored", 3)]
    [row] = await tiny.hook.journal.entries()  # kept for a retry: the bad entry may be a passing failure
    assert row["status"] == "pending" and row["last_error"] == "1 of 4 entries failed: entry 1: KeyError"
    clock.advance(minutes=5)
    assert await tiny.hook.journal.recover() == 1
    await tiny.hook.idle()
    after = await stored(store)
    assert sorted(after["surveys"]) == [("31611111111", "scored", 8), ("31622222222", "scored", 3)]
    assert after["outbox"].count("ask_comment") == 2  # the retry found both messages already handled
    warnings = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert any("entry 1 failed (KeyError)" in r.getMessage() for r in warnings)
    assert all("private message" not in r.getMessage() and not r.exc_info for r in warnings)


async def test_a_message_meta_delivers_twice_is_handled_once(tiny: TinyWhatsApp, store: Store) -> None:
    await close(tiny, "16505551234")
    body = text_body(("16505551234", "wamid.TWICE", "6"))
    twice_in_one_batch = {"object": WHATSAPP_OBJECT, "entry": [body["entry"][0], body["entry"][0]]}
    async with serve(tiny) as client:
        for payload in (body, body, twice_in_one_batch):  # a redelivery, then the same message twice in a batch
            assert (await post(client, payload))[0] == 200
            await tiny.hook.idle()
    assert tiny.handled == ["wamid.TWICE"] * 4  # every entry ran; the survey saw the message once
    after = await stored(store)
    assert after["surveys"] == [("16505551234", "scored", 6)]
    assert after["outbox"] == ["ask_score", "mark_answered", "ask_comment"]
    assert await tiny.hook.journal.entries() == []


async def test_a_stop_hands_unfinished_work_back_for_the_next_start(tiny: TinyWhatsApp, clock: FakeClock) -> None:
    tiny.hold = asyncio.Event()
    async with serve(tiny) as client:
        assert (await post(client, text_body(("16505551234", "wamid.LATE", "9"))))[0] == 200
    await tiny.hook.stop(grace=0)
    [row] = await tiny.hook.journal.entries()
    assert row["status"] == "pending" and row["leased_by"] is None  # released: the next start takes it at once


def test_read_batch_checks_the_outline_only() -> None:
    entries = read_batch(b'{"object": "instagram", "entry": [1, {"id": "2"}]}', frozenset({"instagram"}))
    assert entries == [1, {"id": "2"}]


def test_a_webhook_needs_its_secrets(store: Store, clock: FakeClock) -> None:
    tiny = TinyWhatsApp(store, clock)
    deps = ChannelDeps(PROFILE, ProfileSettings(PROFILE), tiny.service, store, clock, None, LEASE)
    for token, secret in (("", SECRET), (VERIFY, "")):
        with pytest.raises(ValueError, match="verify token and an app secret"):
            GraphWebhook(deps, channel=CHANNEL, path=PATH, verify_token=token, app_secret=secret,
                         objects=frozenset({WHATSAPP_OBJECT}), handle_entry=tiny.entry)  # fmt: skip


# ---- the sandbox's bodies are Meta's documented shapes ------------------------------------------------------------


def paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path of a JSON value with the type found there (list items share a path), e.g.
    `entry[].changes[].value.messages[].timestamp:str`."""
    if isinstance(value, dict):
        return {p for k, v in value.items() for p in paths(v, f"{prefix}.{k}" if prefix else k)}
    if isinstance(value, list):
        return {p for item in value for p in paths(item, f"{prefix}[]")} or {f"{prefix}[]"}
    return {f"{prefix}:{type(value).__name__}"}


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def wa(message: dict[str, Any] | None = None, status: dict[str, Any] | None = None) -> dict[str, Any]:
    value = whatsapp_value(PHONE_ID, DISPLAY, messages=[message] if message else [],
                           contacts=[("16505551234", "Sheena Nelson")] if message else [],
                           statuses=[status] if status else [])  # fmt: skip
    return whatsapp_body(WABA, [value])


def page(event: dict[str, Any], obj: str = MESSENGER_OBJECT) -> dict[str, Any]:
    return messaging_body(obj, "1", [event])


SHAPES = [
    ("whatsapp_text.json", lambda: wa(wa_text("16505551234", "Does it come in another color?"))),
    ("whatsapp_interactive_button_reply.json", lambda: wa(wa_button_reply("16505551234", "s1:9", "9", "wamid.Q"))),
    ("whatsapp_interactive_list_reply.json",
     lambda: wa(wa_list_reply("16505551234", "s1:9", "9", "wamid.Q", description="Very likely"))),
    ("whatsapp_button.json", lambda: wa(wa_template_button("16505551234", "s1:start", "Answer", "wamid.Q"))),
    ("whatsapp_status_delivered.json", lambda: wa(status=wa_status("wamid.Q", "delivered", "16505551234"))),
    ("whatsapp_status_read.json", lambda: wa(status=wa_status("wamid.Q", "read", "16505551234"))),
    ("messenger_text.json", lambda: page(messaging_text("2", "1", "hello, world!"))),
    ("messenger_quick_reply.json", lambda: page(messaging_text("2", "1", "9", quick_reply="s1:9"))),
    ("messenger_delivery.json", lambda: page(messaging_delivery("2", "1", ["m_1"], 1))),
    ("messenger_read.json", lambda: page(messaging_read("2", "1", 1))),
    ("instagram_text.json", lambda: page(messaging_text("2", "1", "hello"), INSTAGRAM_OBJECT)),
    ("instagram_seen.json", lambda: page(messaging_read("2", "1", 1, mid="m_1"), INSTAGRAM_OBJECT)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "build"), SHAPES, ids=[name for name, _ in SHAPES])
def test_the_sandbox_builds_bodies_with_every_field_of_metas_example(name: str, build: Any) -> None:
    """What Meta's documentation shows is there in what the sandbox posts, with the same JSON types, and the body
    reads as a batch for its object."""
    documented, built = example(name), build()
    assert paths(documented) - paths(built) == set()
    assert read_batch(json.dumps(built).encode(), frozenset({documented["object"]})) == built["entry"]


def test_a_documented_failed_status_reads_as_the_sandbox_builds_it() -> None:
    documented = example("whatsapp_status_failed.json")
    [change] = documented["entry"][0]["changes"]
    [status] = change["value"]["statuses"]
    built = wa_status(status["id"], "failed", status["recipient_id"], error_code=status["errors"][0]["code"])
    assert {p for p in paths(status) if p.startswith(("errors[].code", "id", "status", "recipient_id"))} <= paths(built)
