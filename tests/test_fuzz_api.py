"""Fuzz of the operator API under /api/v1, authenticated (admin token, a profile's token, or a dashboard session):
every GET with arbitrary query strings over its own parameters, the POST bodies (close, reopen, claim, resolve)
mutated from valid ones, odd ids in paths and odd Idempotency-Keys; and the unauthenticated service routes
(/healthz, /metrics, the OpenAPI document). Never a 5xx, and a refused request (4xx) changes no survey and stores
nothing."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz_server import BACKENDS, CHANNELS, CUSTOMERS, REPORT_FILTERS, FuzzApp, fuzz_settings, open_app
from tests.fuzz_values import (
    HEADER_TEXT,
    RARELY,
    READ_HEADERS,
    either,
    extra_headers,
    fresh,
    json_bytes,
    mostly,
    mutated,
    number,
    odd_ints,
    odd_text,
    query_strings,
)

app = pytest.fixture(scope="module", params=BACKENDS)(open_app)


PARAMS = REPORT_FILTERS | {
    "state": either(["pending", "asked", "scored", "completed", "expired", "skipped", "opted_out"]),
    "category": either(["promoter", "passive", "detractor"]),
    "limit": number(1, 500),
    "cursor": number(1, 50),
    "by": either(["profile", "channel", "agent", "team", "locale"]),
    "bucket": either(["day", "week", "month"]),
    "status": either(["open", "claimed", "resolved"]),
}
READS = ["/api/v1/responses", "/api/v1/responses.csv", "/api/v1/nps", "/api/v1/dead-letters", "/api/v1/detractors"]


def test_reads_with_any_query(app: FuzzApp) -> None:
    @fuzz_settings(app.backend, share=2)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(READS))
        query, headers = data.draw(query_strings(PARAMS)), data.draw(extra_headers(READ_HEADERS))
        app.exchange("GET", path, query=query, headers=headers | app.auth(data.draw(st.integers(0, 2))))

    check()


def path_ids(survey_ids: list[int]) -> st.SearchStrategy[str]:
    """An id in a path: a real survey's, a 64-bit edge, or text that is no number at all."""
    odd = st.one_of(odd_ints().map(str), odd_text())
    return mostly(st.sampled_from(survey_ids).map(str), odd).map(lambda s: urllib.parse.quote(s, safe="") or "0")


def test_one_response_and_follow_ups(app: FuzzApp) -> None:
    detractors = [i for ids in app.seeded.values() for i in ids[1:3]]  # SCORES: the 2nd and 3rd are detractors
    survey_ids = detractors + [i for ids in app.seeded.values() for i in ids if i not in detractors]

    @fuzz_settings(app.backend)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        survey = data.draw(path_ids(survey_ids))
        headers = app.auth(data.draw(st.integers(0, 2)))
        if data.draw(st.booleans()):
            app.exchange("GET", f"/api/v1/responses/{survey}", headers=headers, query=data.draw(query_strings({})))
            return
        action = data.draw(st.sampled_from(["claim", "resolve"]))
        body = data.draw(mutated({"by": data.draw(either(["Ana", "Luis"]))}))
        headers["Content-Type"] = "application/json"
        app.exchange("POST", f"/api/v1/detractors/{survey}/{action}", body=data.draw(json_bytes(body)), headers=headers)

    check()


@st.composite
def close_bodies(draw: st.DrawFn) -> dict[str, Any]:
    channel = draw(st.sampled_from(CHANNELS))
    conv, user, thread = draw(st.sampled_from(CUSTOMERS[channel]))
    body: dict[str, Any] = {"profile": draw(st.sampled_from(["acme", "acme", "beta"])), "channel": channel,
                            "conversation_id": conv, "user_id": user}  # fmt: skip
    if thread:
        body["thread"] = thread
    if draw(st.booleans()):
        body |= {"agent": "Ana", "team": "billing", "locale": draw(st.sampled_from(["en", "es", "pt-BR"])),
                 "customer_name": draw(odd_text()), "case_id": f"case-{fresh()}",
                 "metadata": {"ticket": draw(odd_ints()), "tags": [draw(odd_text())]}}  # fmt: skip
    return body


def test_close_and_reopen_bodies(app: FuzzApp) -> None:
    @fuzz_settings(app.backend)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        close = data.draw(close_bodies())
        if data.draw(st.booleans()):
            path, body = "/api/v1/conversations/close", close
        else:
            kept = ("profile", "channel", "conversation_id", "thread")
            path, body = "/api/v1/conversations/reopen", {k: v for k, v in close.items() if k in kept}
        headers = {**app.auth(data.draw(st.integers(0, 2))), "Content-Type": "application/json"}
        if data.draw(st.booleans()):
            key = data.draw(HEADER_TEXT) if data.draw(RARELY) else f"key-{fresh()}"
            headers["Idempotency-Key"] = key
        payload = data.draw(mutated(body))
        app.exchange("POST", path, body=data.draw(json_bytes(payload)), headers=headers, query="")

    check()


def test_service_routes(app: FuzzApp) -> None:
    """What load balancers, scrapers and API clients read without a token, with whatever query they add."""

    @fuzz_settings(app.backend, share=0.25)
    @given(query_strings({}))
    def check(query: str) -> None:
        for path in ("/healthz", "/metrics", "/api/v1/openapi.json"):
            app.exchange("GET", path, query=query)

    check()
