"""Fuzz of `POST /slack/{profile}/events`, signed with the profile's signing secret (v0): JSON events, form-encoded
interactivity (`payload=`) and slash commands, built from the shapes Slack sends and then mutated. Never a 5xx, a
refused request (4xx) changes no survey and journals nothing, and a request answered 200 (journaled: Slack will not
send it again) is processed without failing. `response_url` always points at the fake, so nothing leaves the
machine."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bots.sandbox.signing import slack_headers
from tests.fuzz_server import (
    BACKENDS,
    CUSTOMERS,
    SLACK_AGENT,
    SLACK_CHANNEL,
    SLACK_SECRET,
    FuzzApp,
    fuzz_settings,
    open_app,
)
from tests.fuzz_values import RARELY, form, fresh, json_bytes, mutated, odd_ints, odd_text, query_strings
from tests.slack_requests import MESSAGE_IM, block_action, event

app = pytest.fixture(scope="module", params=BACKENDS)(open_app)
PAYLOADS = Path("/work/shared/payloads")
WORDS = ["9", "nine", "10/10", "0", "stop", "great service", "nueve", "<@UAGENT01>"]
USERS = [user for _, user, _ in CUSTOMERS["slack"]]
THREADS = [thread for _, _, thread in CUSTOMERS["slack"]]


def _shared(name: str) -> dict[str, Any]:
    path = PAYLOADS / name
    return json.loads(path.read_text()) if path.exists() else {}


def users() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from([*USERS, SLACK_AGENT]), odd_text())


def survey_refs(survey_ids: list[int]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(survey_ids).map(str), odd_ints().map(str), odd_text())


@st.composite
def json_events(draw: st.DrawFn) -> dict[str, Any]:
    """A customer's reply in a survey thread, an agent's close reaction, url_verification, a DM."""
    kind = draw(st.sampled_from(["reply", "reaction", "verification", "im"]))
    event_id = f"Ev{fresh()}"
    if kind == "verification":
        return _shared("slack_url_verification.json") or {"type": "url_verification", "challenge": "c"}
    if kind == "im":
        return {**MESSAGE_IM, "event_id": event_id}
    thread = draw(st.one_of(st.sampled_from(THREADS), odd_text()))
    if kind == "reply":
        inner = {"type": "message", "channel": SLACK_CHANNEL, "user": draw(users()), "ts": "1700000200.000001",
                 "thread_ts": thread, "channel_type": "channel", "event_ts": "1700000200.000001",
                 "text": draw(st.one_of(st.sampled_from(WORDS), odd_text()))}  # fmt: skip
    else:
        item = {"type": "message", "channel": SLACK_CHANNEL, "ts": thread}
        inner = {"type": "reaction_added", "user": draw(users()), "reaction": "white_check_mark",
                 "item_user": draw(users()), "item": item, "event_ts": "1700000100.000200"}  # fmt: skip
    return event(inner, event_id)


@st.composite
def interactions(draw: st.DrawFn, survey_ids: list[int], response_url: str) -> dict[str, Any]:
    """Block actions on our buttons (score, comment, claim, resolve), the comment modal's submission, the close
    shortcut."""
    user = draw(users())
    kind = draw(st.sampled_from(["score", "comment", "claim", "resolve", "view", "shortcut"]))
    ref = draw(survey_refs(survey_ids))
    thread = draw(st.one_of(st.sampled_from(THREADS), odd_text()))
    message = {"ts": thread, "thread_ts": thread, "channel": SLACK_CHANNEL, "text": "How likely…", "blocks": []}
    action_ts = f"1700000300.{fresh():06d}"
    if kind == "score":
        n = draw(st.one_of(st.integers(0, 10), odd_ints()))
        return json.loads(block_action(user, f"{ref}:{n}", f"nps_score_{n}", message, action_ts)["payload"])
    if kind in ("comment", "claim", "resolve"):
        return json.loads(block_action(user, ref, f"nps_{kind}", message, action_ts)["payload"])
    if kind == "view":
        metadata = draw(st.one_of(st.just(ref), st.just(f"{ref}|{SLACK_CHANNEL}|{thread}")))
        comment = draw(st.one_of(st.sampled_from(WORDS), odd_text()))
        view = {"id": f"V{fresh()}", "type": "modal", "callback_id": "nps_comment_modal",
                "private_metadata": metadata, "hash": "156663117.cd33ad1f",
                "state": {"values": {"comment": {"text": {"type": "plain_text_input", "value": comment}}}}}  # fmt: skip
        return {"type": "view_submission", "team": {"id": "T1"}, "user": {"id": user, "name": "x"}, "view": view}
    return {"type": "message_action", "callback_id": "nps_close", "trigger_id": f"t{fresh()}",
            "user": {"id": user, "name": "agent"}, "channel": {"id": SLACK_CHANNEL, "name": "support"},
            "message": {"type": "message", "user": draw(users()), "ts": thread}, "response_url": response_url,
            "team": {"id": "T1"}}  # fmt: skip


@st.composite
def commands(draw: st.DrawFn, response_url: str) -> dict[str, Any]:
    mention = draw(st.one_of(users().map(lambda u: f"<@{u}>"), odd_text()))
    return {"token": "x", "team_id": "T1", "channel_id": SLACK_CHANNEL, "channel_name": "support",
            "user_id": draw(users()), "user_name": "agent", "command": "/nps-close", "text": mention,
            "response_url": response_url, "trigger_id": f"{fresh()}.1.x"}  # fmt: skip


def pin(value: Any, response_url: str) -> Any:
    """A mutated `response_url` is put back: the app posts there, and it must be the fake."""
    if isinstance(value, dict):
        return {k: response_url if k == "response_url" else pin(v, response_url) for k, v in value.items()}
    if isinstance(value, list):
        return [pin(v, response_url) for v in value]
    return value


def post(app: FuzzApp, data: st.DataObject, raw: bytes, content_type: str) -> None:
    stamp = str(int(time.time()))
    if data.draw(RARELY, label="odd timestamp?"):  # mostly in the window, so the body is read
        odd = data.draw(st.one_of(odd_ints().map(str), odd_text()), label="timestamp")
        stamp = odd if odd.isascii() and odd.isprintable() else stamp  # else no client could send it
    headers = {"Content-Type": content_type, **slack_headers(SLACK_SECRET, raw, stamp)}
    retry = data.draw(st.one_of(st.none(), st.tuples(odd_text(), odd_text())), label="retry headers")
    if retry is not None and all(v.isascii() and v.isprintable() for v in retry):
        headers |= {"X-Slack-Retry-Num": retry[0], "X-Slack-Retry-Reason": retry[1]}
    query = data.draw(query_strings({}))
    app.exchange("POST", "/slack/acme/events", body=raw, headers=headers, query=query)


def test_json_events(app: FuzzApp) -> None:
    @fuzz_settings(app.backend)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        payload = data.draw(mutated(data.draw(json_events())))
        content_type = data.draw(st.sampled_from(["application/json", "application/json", "text/plain", ""]))
        post(app, data, data.draw(json_bytes(payload)), content_type)

    check()


def test_interactivity(app: FuzzApp) -> None:
    survey_ids, response_url = app.ids("slack"), app.slack.url("/response/1")

    @fuzz_settings(app.backend)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        payload = pin(data.draw(mutated(data.draw(interactions(survey_ids, response_url)))), response_url)
        raw = data.draw(json_bytes(payload)).decode("utf-8", "replace")
        post(app, data, form({"payload": raw}).encode(), "application/x-www-form-urlencoded")

    check()


def test_slash_commands(app: FuzzApp) -> None:
    response_url = app.slack.url("/response/2")

    @fuzz_settings(app.backend, share=0.5)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        fields = pin(data.draw(mutated(data.draw(commands(response_url)))), response_url)
        body = form(fields) if isinstance(fields, dict) else form({"text": fields})
        post(app, data, body.encode(), "application/x-www-form-urlencoded")

    check()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b'{"a":' * 5000 + b"1" + b"}" * 5000),
        ("", b'{"a":' * 5000 + b"1" + b"}" * 5000),
        ("application/x-www-form-urlencoded", b'{"a":' * 5000 + b"1" + b"}" * 5000),
        ("text/plain", b"payload=" + b"%5B" * 5000 + b"%5D" * 5000),
        ("", b'{"type": "url_verification", "challenge": 1e400}'),
    ],
)
def test_json_bolt_finds_without_a_json_content_type(app: FuzzApp, content_type: str, body: bytes) -> None:
    """Found by the fuzz: bolt reads a body starting with "{" as JSON, and a body holding `payload` as a form,
    whatever the Content-Type says. Such a body nested past the stack was a 500; it is read strictly first (400)."""
    headers = {"Content-Type": content_type, **slack_headers(SLACK_SECRET, body)}
    reply = app.exchange("POST", "/slack/acme/events", body=body, headers=headers)
    assert reply.status == 400 and b"malformed JSON" in reply.body, reply.body[:200]
