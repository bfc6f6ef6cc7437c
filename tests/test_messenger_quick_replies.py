"""The pieces Messenger and Instagram share (adapters.metagraph.messaging): quick-reply titles within Meta's 20
characters in every language, payloads that carry a bounded survey id and score and nothing else, text cut to a
platform's limit, and each documented Send API error's meaning."""

from __future__ import annotations

import pytest

from adapters.metagraph.client import GraphError
from adapters.metagraph.messaging import (
    MAX_QUICK_REPLIES,
    TITLE_LIMIT,
    Messaging,
    classify,
    clip,
    delivery_error,
    fit_title,
    quick_replies,
    read_score_payload,
    score_payload,
)
from core.channel import score_labels
from core.delivery import OutsideWindow, PermanentFailure, RetryLater
from core.followup import MAX_SURVEY_ID
from core.messages import LOCALES, MessageCatalog
from core.replies import parse_score
from core.types import AskScore
from tests.messaging_app import doc


def units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@pytest.mark.parametrize("locale", LOCALES)
def test_every_shipped_languages_scale_fits_and_its_payloads_read_back(locale: str) -> None:
    m = MessageCatalog()
    low, high = m.text("scale_low", locale), m.text("scale_high", locale)
    action = AskScore(m.text("question", locale, brand="Acme"), low, high)
    replies = quick_replies(42, score_labels(action))
    assert len(replies) == 11 <= MAX_QUICK_REPLIES
    for n, reply in enumerate(replies):
        assert units(reply["title"]) <= TITLE_LIMIT
        assert read_score_payload(reply["payload"]) == (42, n)


@pytest.mark.parametrize(
    "label",
    ["10 · Äußerst wahrscheinlich", "0 · " + "🙂" * 12, "10 · Extrêmement probable", "10 · " + "x" * 200],
)
def test_long_labels_are_cut_with_an_ellipsis_and_keep_their_number(label: str) -> None:
    title = fit_title(label)
    assert units(title) <= TITLE_LIMIT and title.endswith("…") and parse_score(title) == parse_score(label)


def test_a_short_label_is_left_alone() -> None:
    assert fit_title("10 · Very likely") == "10 · Very likely"


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "",
        "<DEVELOPER_DEFINED_PAYLOAD>",
        "nps:0:5",
        "nps:-1:5",
        "nps:12:11",
        "nps:12:05",
        "nps:12:5:extra",
        "NPS:12:5",
        f"nps:{MAX_SURVEY_ID + 1}:5",
        "nps:99999999999999999999:5",
        "nps:１２:5",  # full-width digits
        "nps:12:5\n",
    ],
)
def test_a_payload_that_is_not_exactly_ours_names_no_survey(payload: str | None) -> None:
    assert read_score_payload(payload) is None


def test_payloads_round_trip_up_to_the_largest_survey_id() -> None:
    assert read_score_payload(score_payload(MAX_SURVEY_ID, 10)) == (MAX_SURVEY_ID, 10)
    assert read_score_payload(score_payload(1, 0)) == (1, 0)


def test_more_than_thirteen_quick_replies_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="13"):
        quick_replies(1, tuple(str(n) for n in range(14)))


def test_text_is_cut_by_characters_or_by_utf8_bytes() -> None:
    assert clip("a" * 2500, chars=2000) == "a" * 1999 + "…"
    cut = clip("ü" * 700, utf8_bytes=1000)
    assert len(cut.encode()) <= 1000 and cut.endswith("…") and set(cut[:-1]) == {"ü"}
    assert clip("short", chars=2000, utf8_bytes=1000) == "short"


def graph_error(name: str, file: str = "messenger_errors.json") -> GraphError:
    documented = doc(file)[name]
    error = documented["error"]
    return GraphError(documented["status"], error["code"], error.get("error_subcode"), error["type"])


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("outside_window", "window"),
        ("outside_window_subscription", "window"),
        ("person_unavailable", "unreachable"),
        ("no_matching_user", "unreachable"),
        ("application_rate_limit", "rate"),
        ("too_many_sends", "rate"),
        ("api_rate_limit", "rate"),
        ("user_rate_limit", "rate"),
        ("page_rate_limit", "rate"),
        ("invalid_token", "token"),
        ("temporary_failure", "transient"),
        ("unexpected", "transient"),
        ("invalid_parameter", "final"),
    ],
)
def test_each_documented_messenger_error_means_what_meta_says(name: str, kind: str) -> None:
    assert classify(graph_error(name)) == kind


def test_instagrams_window_error_is_a_window_error() -> None:
    error = graph_error("outside_window", "instagram_errors.json")
    assert classify(error) == "window" and isinstance(delivery_error(error), OutsideWindow)


def test_the_worker_errors_name_codes_only() -> None:
    unreachable = delivery_error(graph_error("person_unavailable"))
    assert isinstance(unreachable, PermanentFailure) and unreachable.unreachable
    assert "551" in str(unreachable) and "available" not in str(unreachable)
    rate = delivery_error(graph_error("api_rate_limit"))
    assert isinstance(rate, RetryLater) and rate.retry_after == 60
    token = delivery_error(graph_error("invalid_token"))
    assert isinstance(token, PermanentFailure) and not token.unreachable and "Invalid" not in str(token)


def test_a_doc_timestamp_in_seconds_is_read_as_seconds() -> None:
    from datetime import UTC, datetime

    postback = doc("messenger_postback.json", {"<PSID>": "1", "<PAGE_ID>": "2"})["entry"][0]["messaging"][0]
    event = Messaging.model_validate(postback)
    now = datetime(2026, 3, 2, tzinfo=UTC)
    assert event.at(now) == datetime(2018, 5, 27, 22, 23, 44, tzinfo=UTC) and event.from_customer
    future = Messaging.model_validate({**postback, "timestamp": int(now.timestamp() * 1000) + 10**9})
    assert future.at(now) == now  # a window is never renewed into the future
