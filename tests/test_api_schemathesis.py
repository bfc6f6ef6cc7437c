"""Property-based requests generated from our own OpenAPI document: no request may cause a server error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from bots.api.openapi import spec
from core.types import Address, ConversationClosed, ScoreGiven
from tests.live import live_app

TOKEN = "schema-admin-token"
schema = schemathesis.openapi.from_dict(spec())


async def _seed(runtime) -> None:
    for i, score in enumerate([10, 3, 7]):
        address = Address("memory", "acme", f"c{i}", f"u{i}")
        await runtime.service.handle(ConversationClosed(address, agent="ana"))
        await runtime.service.handle(ScoreGiven(address, score))


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
        "profiles": {"acme": {"brand": "Acme", "policy": {"throttle": "0s"}, "channels": {"memory": {}}}},
    }
    with live_app(cfg, _seed) as url:
        yield url


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_causes_a_server_error(case: schemathesis.Case, base_url: str) -> None:
    response = case.call(base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
    )
