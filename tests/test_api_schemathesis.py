"""Property-based requests generated from our own OpenAPI document, on SQLite and PostgreSQL: no request may cause
a server error, and every request the document calls valid is accepted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import response_schema_conformance, status_code_conformance
from schemathesis.generation import GenerationMode

from bots.api.openapi import spec
from core.types import Address, ConversationClosed, ScoreGiven, TextReceived
from tests.live import live_app

TOKEN = "schema-admin-token"
schema = schemathesis.openapi.from_dict(spec())
# What a request that follows the document may still get: 404 for an id that does not exist (and, for a contact
# PUT, 404 for a channel the profile does not have and 409 for a person an earlier DELETE erased).
ACCEPTED = {"GET": {200, 404}, "POST": {200, 404}, "DELETE": {200, 404}, "PUT": {200, 404, 409}}
# And for one path: a survey that another generated request opened (a conversation close) and nobody answered is a
# 422 for the rules' verdict, as the document says.
ACCEPTED_FOR = {("GET", "/api/v1/rules/test"): {422}}
DETRACTOR_ID = 2


async def _seed(runtime) -> None:
    """A promoter, a detractor (id 2) with a comment, so claim / resolve have something to act on, and a passive."""
    for i, score in enumerate([10, 3, 7]):
        address = Address("memory", "acme", f"c{i}", f"u{i}")
        await runtime.service.handle(ConversationClosed(address, agent="ana"))
        await runtime.service.handle(ScoreGiven(address, score))
        await runtime.service.handle(TextReceived(address, f"comment {i}"))


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def base_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app served on 127.0.0.1 over each backend, with a few responses to read."""
    if request.param == "sqlite":
        database_url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'api.db'}"
    else:
        database_url = request.getfixturevalue("pg_url")
    cfg = {
        "database_url": database_url,
        "admin_tokens": [TOKEN],
        "profiles": {
            "acme": {
                "brand": "Acme",
                "policy": {"throttle": "0s"},
                "channels": {"memory": {"http": True, "token": TOKEN}},
            }
        },
    }
    with live_app(cfg, _seed) as url:
        yield url


def _attribute_names(body: dict) -> None:
    """Contact attribute names follow a rule OpenAPI 3.0 cannot state (it has no propertyNames): generated names
    are replaced by valid ones, keeping the values, so a request valid in every other way reaches the database."""
    items = body.get("contacts") if isinstance(body.get("contacts"), list) else [body]
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("attributes"), dict):
            item["attributes"] = {f"a{i}": v for i, v in enumerate(item["attributes"].values())}


def _aim_at_the_real_profile(case: schemathesis.Case) -> None:
    """A random profile name only ever reaches the 404; naming the configured one takes the request all the way
    to the database."""
    if isinstance(case.body, dict):
        _attribute_names(case.body)
        if "profile" in case.body:
            case.body["profile"] = "acme"
        if "channel" in case.body:
            case.body["channel"] = "memory"
    if case.query and "profile" in case.query:
        case.query["profile"] = "acme"
    params = case.path_parameters or {}
    if "profile" in params:
        params["profile"] = "acme"  # the memory channel's trial endpoint, enabled with the same token
    if "action" in params and isinstance(params.get("id"), int) and params["id"] % 2 == 0:
        params["id"] = DETRACTOR_ID  # half of the claims and resolves act on the seeded detractor
    if "channel" in params and isinstance(params.get("id"), str) and len(params["id"]) % 2 == 0:
        params.update(channel="memory", id="u0")  # half of the exports and erasures find the seeded promoter


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_causes_a_server_error(case: schemathesis.Case, base_url: str) -> None:
    _aim_at_the_real_profile(case)
    response = case.call(base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    what = f"{case.method} {case.formatted_path} {case.query} {str(case.body)[:200]}"
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    if case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE:
        accepted = ACCEPTED[case.method] | ACCEPTED_FOR.get((case.method, case.path), set())
        assert response.status_code in accepted, f"{what}: {response.status_code} {response.text[:300]}"
    # every answer has a status, content type and body the document declares
    case.validate_response(response, checks=[response_schema_conformance, status_code_conformance])
