"""Fuzz of `POST /telegram/{profile}` with the right secret header: updates shaped like Telegram's (customer text,
an agent's /close, a closed support topic, score and follow-up taps, a blocked bot), then mutated. Never a 5xx, and
a refused update (4xx) changes no survey. A tap Telegram delivered but we refuse is a 200 with a toast."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import telegram_updates as tg
from tests.fuzz_server import BACKENDS, TG_AGENT, TG_SECRET, TG_SUPPORT, TG_TOPIC, FuzzApp, fuzz_settings, open_app
from tests.fuzz_values import RARELY, extra_headers, fresh, json_bytes, mutated, odd_ints, odd_text, query_strings

app = pytest.fixture(scope="module", params=BACKENDS)(open_app)
CUSTOMER_CHATS = [5001, 5002, 5003, 5004]
WORDS = ["9", "nine", "10/10", "0", "stop", "/start", "great service", "nueve", "🔟", "١٠"]
HEADERS = ["Content-Type", "X-Forwarded-For", "Accept-Encoding", "Cookie", "Authorization"]


def _drawn_ids(draw: st.DrawFn, update: dict[str, Any]) -> dict[str, Any]:
    """The helpers number messages from a counter of their own; here they are drawn, so an example replays the
    same, while update ids are always new (a repeated one is only acknowledged as a duplicate)."""
    update["update_id"] = fresh()
    stack: list[Any] = [update]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "message_id" in node:
                node["message_id"] = draw(st.integers(1, 10**6))
            stack.extend(node.values())
    if "callback_query" in update:
        update["callback_query"]["id"] = f"cq{fresh()}"
    return update


def chats() -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(CUSTOMER_CHATS), odd_ints())


@st.composite
def customer_text(draw: st.DrawFn) -> dict[str, Any]:
    chat_id = draw(chats())
    sender = tg.user(chat_id, lang=draw(st.sampled_from(["en", "es", None, "zz-ZZ"])))
    return _drawn_ids(draw, tg.text_update(chat_id, sender, draw(st.one_of(st.sampled_from(WORDS), odd_text()))))


@st.composite
def agent_close(draw: st.DrawFn) -> dict[str, Any]:
    """/close replying to the customer's message, in a private chat or a group, or a support topic being closed."""
    chat_id = draw(st.sampled_from([*CUSTOMER_CHATS, -100555, TG_SUPPORT]))
    customer = tg.user(draw(chats()), lang=draw(st.sampled_from(["en", None])))
    agent = tg.user(draw(st.sampled_from([TG_AGENT, 8, 9])), "Agnes")
    if draw(st.booleans()):
        topic = draw(st.one_of(st.just(TG_TOPIC), odd_ints()))
        closed = tg.message(TG_SUPPORT, agent, forum_topic_closed={}, message_thread_id=topic, is_topic_message=True)
        return _drawn_ids(draw, tg.update(message=closed))
    reply_to = tg.message(chat_id, customer, draw(odd_text()))
    command = draw(st.sampled_from(["/close", "/close@npsbot", "/close extra"]))
    return _drawn_ids(draw, tg.text_update(chat_id, agent, command, reply_to=reply_to))


@st.composite
def taps(draw: st.DrawFn, survey_ids: list[int]) -> dict[str, Any]:
    """A score tap (v:survey:score) or a follow-up claim/resolve (f:survey:c|r) on the message the bot sent."""
    kind = draw(st.sampled_from(["vote", "follow", "other"]))
    survey = draw(st.one_of(odd_ints(), st.sampled_from(survey_ids)))
    if kind == "vote":
        data = f"v:{survey}:{draw(st.one_of(st.integers(0, 10), odd_ints()))}"
    elif kind == "follow":
        data = f"f:{survey}:{draw(st.one_of(st.sampled_from(['c', 'r']), odd_text()))}"
    else:
        data = draw(odd_text())
    chat_id = draw(st.one_of(st.sampled_from([*CUSTOMER_CHATS, TG_SUPPORT]), odd_ints()))
    sender = tg.user(draw(st.one_of(st.sampled_from([*CUSTOMER_CHATS, TG_AGENT, 8]), odd_ints())))
    if draw(st.integers(0, 4)) == 0:
        update = tg.inline_callback_update()
        update["callback_query"]["data"] = data
        return _drawn_ids(draw, update)
    text = draw(st.one_of(st.just("How likely…"), odd_text()))
    return _drawn_ids(draw, tg.callback_update(sender, chat_id, 1, data, text=text))


@st.composite
def blocked(draw: st.DrawFn) -> dict[str, Any]:
    return _drawn_ids(draw, tg.kicked_update(tg.user(draw(chats()))))


def post(app: FuzzApp, update: Any, body: bytes, query: str, headers: dict[str, str]) -> None:
    headers = {"Content-Type": "application/json", **headers, "X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    app.exchange("POST", "/telegram/acme", body=body, headers=headers, query=query)


def test_customer_messages_and_closes(app: FuzzApp) -> None:
    @fuzz_settings(app.backend)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        update = data.draw(mutated(data.draw(st.one_of(customer_text(), agent_close(), blocked()))))
        query, headers = data.draw(query_strings({})), data.draw(extra_headers(HEADERS))
        post(app, update, data.draw(json_bytes(update)), query, headers)

    check()


def test_button_taps(app: FuzzApp) -> None:
    survey_ids = app.ids("telegram")

    @fuzz_settings(app.backend)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        update = data.draw(taps(survey_ids))  # the callback data carries the odd values; the shape is rarely changed
        update = data.draw(mutated(update, max_changes=2)) if data.draw(RARELY) else update
        post(app, update, data.draw(json_bytes(update)), "", {})

    check()
