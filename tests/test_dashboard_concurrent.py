"""GET /report/data.json reads its panels side by side, sharing their rollup reads: the body it answers is exactly
the one its parts give read one after the other, each on its own (as the handler read them before), on both
backends and under every kind of filter."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp.test_utils import TestClient, TestServer

from bots.api.models import DashboardParams
from bots.app import create_app
from bots.auth import principal_for_token
from bots.config import parse_config
from bots.dashboard.data import dashboard_body
from bots.runtime import Runtime
from core.reports import Filters, breakdown, summary
from core.reports.analytics import dimension_options, distribution
from core.reports.delivery import channel_rows, skipped_by_reason
from core.reports.shared_reads import sharing
from core.store import Store
from tests.test_dashboard import BASE
from tests.test_dashboard import seed as seed_conversations
from tests.test_report_programme import ACME, ADMIN, config, insert_programme
from tests.test_reports import START

NOW = BASE + timedelta(days=30)
PARTIAL = (BASE - timedelta(days=8)).replace(hour=9, minute=30)  # a period starting inside a day: raw rows too
CASES = [
    ({}, ADMIN),
    ({}, ACME),  # one profile in scope: its benchmark and variants
    ({"profile": "acme", "bucket": "month"}, ADMIN),
    ({"agent": "ana", "locale": "es", "bucket": "day"}, ADMIN),
    ({"since": PARTIAL.isoformat(), "until": NOW.isoformat(), "category": "detractor"}, ADMIN),
    ({"profile": "acme", "kind": "relational", "campaign": "q4"}, ADMIN),
    ({"variant": "b", "search": "comment", "channel": "memory"}, ACME),
    ({"since": START.isoformat(), "until": (START + timedelta(days=3)).isoformat()}, ADMIN),
]


async def seeded(store: Store) -> Runtime:
    runtime = Runtime(parse_config(config("sqlite:///unused.db"), env={}), store=store)
    await seed_conversations(runtime)  # comments, follow-ups claimed and resolved, two agents and locales
    await insert_programme(store)  # variants, a campaign, both kinds, skipped surveys
    runtime.service.clock = lambda: NOW
    return runtime


async def test_concurrent_body_is_the_sequential_body(store: Store) -> None:
    runtime = await seeded(store)
    async with TestClient(TestServer(create_app(runtime))) as client:
        for query, token in CASES:
            resp = await client.get(
                f"/report/data.json?{urlencode(query)}", headers={"Authorization": f"Bearer {token}"}
            )
            assert resp.status == 200, await resp.text()
            got = await resp.json()
            who = principal_for_token(runtime.config, token)
            assert who is not None
            params = DashboardParams.parse(dict(parse_qsl(urlencode(query))))
            scope = None if who.profiles is None else tuple(sorted(who.profiles))
            visible = who.visible(list(runtime.config.profiles))
            one_by_one = await dashboard_body(
                runtime, params.filters(profiles=scope), params, visible, NOW, concurrently=False
            )
            assert got == json.loads(json.dumps(one_by_one)), query
            assert got["summary"]["asked"] > 0 and got["breakdowns"]["agent"], query  # figures, not empty panels


async def test_parts_in_one_request_read_the_rollups_once(store: Store) -> None:
    await seeded(store)
    f = Filters(since=START - timedelta(days=1), until=datetime.now(UTC))

    async def parts() -> list[Any]:
        return [
            await summary(store, f),
            await breakdown(store, "variant", f),
            await distribution(store, f),
            await skipped_by_reason(store, f),
            await channel_rows(store, f, []),
            await dimension_options(store, ["agent", "kind"], Filters()),
        ]

    alone = await parts()
    with sharing() as shared:
        together = await parts()
    assert together == alone and alone[0].asked > 0
    # the day counts and the skips of the period; of all time (the options, never-asked surveys from the skips)
    assert shared.reads == 4
