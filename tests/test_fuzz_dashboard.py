"""Fuzz of the dashboard under /report, signed in (bearer token or the session cookie the sign-in form sets): the
data and CSV reads with arbitrary query strings, odd asset names, and the sign-in and sign-out forms. Never a 5xx,
and a refused request (4xx) changes no survey and stores nothing."""

from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz_server import ADMIN_TOKEN, BACKENDS, FORM, REPORT_FILTERS, FuzzApp, fuzz_settings, open_app
from tests.fuzz_values import (
    HEADER_TEXT,
    RARELY,
    READ_HEADERS,
    either,
    extra_headers,
    form,
    mutated,
    odd_text,
    query_strings,
)

app = pytest.fixture(scope="module", params=BACKENDS)(open_app)
PARAMS = REPORT_FILTERS | {
    "bucket": either(["day", "week", "month", ""]),
    "category": either(["promoter", "passive", "detractor", ""]),
    "search": either(["comment", "%", "_", "\\", ""]),
}
READS = ["/report/data.json", "/report/responses.csv", "/report"]


def test_reads_with_any_query(app: FuzzApp) -> None:
    @fuzz_settings(app.backend, share=2)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(READS))
        query, headers = data.draw(query_strings(PARAMS)), data.draw(extra_headers(READ_HEADERS))
        app.exchange("GET", path, query=query, headers=headers | app.auth(data.draw(st.integers(0, 2))))

    check()


def test_assets(app: FuzzApp) -> None:
    @fuzz_settings(app.backend, share=0.25)
    @given(either(["dashboard.js", "dashboard.css", "..%2Fdashboard.html", "login.html"]))
    def check(name: str) -> None:
        app.exchange("GET", f"/report/static/{urllib.parse.quote(name, safe='%') or 'x'}")

    check()


def test_sign_in_and_out_forms(app: FuzzApp) -> None:
    """Last in the module: failed sign-ins lock the client's address out (429) for a while, and signing out ends
    the session the other tests use."""

    @fuzz_settings(app.backend, share=0.5)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        headers = dict(FORM)
        if data.draw(RARELY):
            headers["Origin"] = data.draw(st.one_of(st.just("null"), st.just("https://evil.example"), HEADER_TEXT))
        if data.draw(st.booleans()):
            fields = data.draw(mutated({"token": ADMIN_TOKEN}, max_changes=1))
            body = form(fields) if isinstance(fields, dict) else form({"token": fields})
            app.exchange("POST", "/report/login", body=body.encode(), headers=headers, query="")
        else:
            headers |= app.auth(2)
            app.exchange("POST", "/report/logout", body=form({"x": data.draw(odd_text())}).encode(), headers=headers)

    check()
