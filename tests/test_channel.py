"""The outbound seam (core.channel): typed sends, the text fallback for a channel without buttons, the outbox's
encoding of an action, and adapters that never see an outbox row."""

from __future__ import annotations

import ast
import logging
import typing
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.memory import MemoryChannel
from bots.worker import Worker
from core.channel import KINDS, Delivery, OutboundChannel, UnknownAction, decode, encode, score_labels, send
from core.profiles import AlertTarget, ProfileSettings
from core.service import SurveyService
from core.store import Store
from core.store import outbox as ob
from core.store.tables import OutboxRow
from core.survey import Policy
from core.types import (
    AskComment,
    AskScore,
    DetractorAlert,
    Digest,
    EventNotice,
    MarkAnswered,
    OutboundAction,
    Say,
)

ROOT = Path(__file__).resolve().parent.parent
OUT = OutboxRow.__table__
ALERT = DetractorAlert(
    survey_id=7, score=3, comment="slow", customer="Ana", agent="marta", team=None, profile="acme",
    channel="memory", conversation_id="c1", link="https://desk.example/c/c1", text="Detractor (3/10) from Ana",
    claim_label="Claim", resolve_label="Resolved",
)  # fmt: skip
EXAMPLES: list[OutboundAction] = [
    AskScore("How likely…?", "Not likely", "Very likely"),
    AskComment("What went wrong?", "detractor", "Add a comment"),
    Say("Thank you!", "thanks"),
    MarkAnswered(9, "You chose 9"),
    ALERT,
    EventNotice("survey.completed", {"id": 7, "score": 3, "metadata": {"k": [1, 2]}}, "2026-03-02T09:00:00+00:00"),
    Digest("NPS +20.0", "Acme NPS digest", "iVBORw0KGgo=", figures={"current": {"nps": 20.0}}),
]


class TextOnly(OutboundChannel):
    """A channel with no buttons and no edits: it implements `say` alone."""

    def __init__(self) -> None:
        self.said: list[tuple[Delivery, Say]] = []

    async def say(self, delivery: Delivery, action: Say) -> str | None:
        self.said.append((delivery, action))
        return f"t{len(self.said)}"


def service_for(store: Store, clock) -> SurveyService:
    settings = ProfileSettings(
        "acme",
        Policy(brand="Acme", throttle=timedelta(0)),
        alert_targets=(AlertTarget("memory", "leads"),),
        link_template="https://desk.example/c/{conversation_id}",
    )
    return SurveyService(store, {"acme": settings}, clock)


async def test_a_channel_without_buttons_gets_the_question_as_text_with_the_scale_in_the_customers_language(
    store: Store, clock
) -> None:
    service = service_for(store, clock)
    chat, text_only = MemoryChannel(service, "acme"), TextOnly()
    worker = Worker(service, {("memory", "acme"): text_only})
    await chat.close("c1", "u1", locale="es")
    await worker.drain()
    [(delivery, question)] = text_only.said
    assert question.text.startswith("¿Qué probabilidad hay de que recomiendes Acme")  # it already invites typing
    assert question.text.endswith("\n0 · Nada probable … 10 · Muy probable")  # the profile's own locale is en
    assert (delivery.conversation_id, delivery.user_id, delivery.locale) == ("c1", "u1", "es")

    assert (await chat.reply("c1", "u1", "3")).survey.score == 3  # typed, as the text asked
    await worker.drain()
    assert [a.text for _, a in text_only.said[1:]] == ["Sentimos oír eso (3). ¿Qué salió mal?"]  # nothing to edit
    await chat.reply("c1", "u1", "Muy lento")
    await worker.drain()
    thanks, alert = (a for _, a in text_only.said[2:])
    assert thanks.text == "¡Gracias por tu opinión!"
    assert alert.text.startswith("Detractor (3/10)") and alert.text.endswith("\nhttps://desk.example/c/c1")
    async with store.read() as conn:
        rows = (await conn.execute(select(OUT.c.kind, OUT.c.status, OUT.c.ref).order_by(OUT.c.id))).all()
    assert [tuple(r) for r in rows] == [
        ("ask_score", "sent", "t1"),
        ("mark_answered", "sent", None),
        ("ask_comment", "sent", "t2"),
        ("say", "sent", "t3"),
        ("detractor_alert", "sent", "t4"),
    ]


async def test_send_calls_the_method_for_the_action_type() -> None:
    class Every(OutboundChannel):
        def __init__(self) -> None:
            self.called: list[tuple[str, OutboundAction]] = []

        async def say(self, delivery: Delivery, action: Say) -> str | None:
            self.called.append(("say", action))
            return "s"

        async def ask_score(self, delivery: Delivery, action: AskScore) -> str | None:
            self.called.append(("ask_score", action))
            return "q"

        async def ask_comment(self, delivery: Delivery, action: AskComment) -> str | None:
            self.called.append(("ask_comment", action))
            return "c"

        async def mark_answered(self, delivery: Delivery, action: MarkAnswered) -> str | None:
            self.called.append(("mark_answered", action))
            return "m"

        async def alert(self, delivery: Delivery, action: DetractorAlert) -> str | None:
            self.called.append(("alert", action))
            return "a"

        async def notify(self, delivery: Delivery, action: EventNotice) -> str | None:
            self.called.append(("notify", action))
            return "n"

        async def send_digest(self, delivery: Delivery, action: Digest) -> str | None:
            self.called.append(("send_digest", action))
            return "d"

    channel = Every()
    delivery = Delivery(1, "acme", "x", 7, "c1", "u1", None, "en", 1)
    refs = [await send(channel, delivery, action) for action in EXAMPLES]
    assert refs == ["q", "c", "s", "m", "a", "n", "d"]
    methods = ["ask_score", "ask_comment", "say", "mark_answered", "alert", "notify", "send_digest"]
    assert channel.called == list(zip(methods, EXAMPLES, strict=True))


def test_every_outbound_action_has_one_stable_tag_and_round_trips() -> None:
    assert set(KINDS) == set(typing.get_args(OutboundAction)) == {type(a) for a in EXAMPLES}
    tags = [encode(a)[0] for a in EXAMPLES]
    assert tags == ["ask_score", "ask_comment", "say", "mark_answered", "detractor_alert", "event_notice", "digest"]
    for action in EXAMPLES:
        kind, payload = encode(action)
        assert decode(kind, payload) == action
    with pytest.raises(UnknownAction):
        decode("alert_detractor", encode(ALERT)[1])  # the old tag: rows queued before are migrated (0007)
    with pytest.raises(UnknownAction):
        decode("say", {"text": "hi"})  # a payload missing a field
    with pytest.raises(UnknownAction):
        decode("say", ["hi"])  # type: ignore[arg-type]


def test_the_scale_labels_are_one_function() -> None:
    labels = score_labels(AskScore("?", "Gens probable", "Molt probable"))
    assert labels == ("0 · Gens probable", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10 · Molt probable")


async def test_a_row_holding_no_known_action_is_a_dead_letter_not_a_crash(
    store: Store, clock, caplog: pytest.LogCaptureFixture
) -> None:
    service = service_for(store, clock)
    text_only = TextOnly()
    async with store.transaction() as conn:
        await ob.enqueue(conn, [ob.NewMessage("acme", "memory", "memory:acme:c9", {}, Say("hi", "thanks"))], clock())
        await conn.execute(OUT.update().values(kind="bogus"))
    caplog.set_level(logging.WARNING)
    await Worker(service, {("memory", "acme"): text_only}).drain()
    async with store.read() as conn:
        [row] = (await conn.execute(select(OUT))).all()
    assert (row.status, row.last_error) == ("dead", "outbox kind 'bogus' is not a known action")
    assert text_only.said == [] and "kind bogus): permanent failure" in caplog.text


def test_adapters_never_see_an_outbox_row() -> None:
    """Channels get core's actions (core.channel), never the storage shape they are kept in."""
    offenders = []
    for path in sorted((ROOT / "adapters").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            names = {alias.name for alias in node.names}
            if node.module == "core.store.outbox" or (node.module == "core.store" and "outbox" in names):
                offenders.append(f"{path.relative_to(ROOT)}: from {node.module} import {', '.join(sorted(names))}")
    assert offenders == []


async def test_a_channel_without_images_gets_the_digest_as_text() -> None:
    text_only = TextOnly()
    delivery = Delivery(1, "acme", "memory", None, "leads", "", None, "en", 1)
    assert await send(text_only, delivery, EXAMPLES[-1]) == "t1"
    assert text_only.said == [(delivery, Say("NPS +20.0", purpose="digest"))]
