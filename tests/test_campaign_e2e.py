"""A relational survey end to end through the webhook channel and its sandbox bridge: the worker's scheduler runs the
campaign's occurrence, the survey tick asks the person when their time in the send window comes, the signed reply
scores it, and the report counts it as relational; a contact a transactional survey asked is throttled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import insert, select

from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.bridge import FakeBridge
from core.reports.summary import Filters, summary
from core.store.tables import ContactRow, SurveyRow
from tests.conftest import FakeClock
from tests.webhook_campaign import SECRET, quarterly_config, sandbox_bridge  # noqa: F401 - the `bridge` fixture
from tests.webhook_signing import signed

START = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # Monday 08:00 in Madrid, an hour before the campaign


@pytest.fixture
async def client(tmp_path, bridge: FakeBridge):
    cfg = quarterly_config(f"sqlite:///{tmp_path / 'campaign.db'}", bridge.url("/deliver"), send_window="1d")
    runtime = Runtime(parse_config(cfg, env={}), clock=FakeClock(START))
    await runtime.store.migrate()
    async with TestClient(TestServer(create_app(runtime))) as c:
        c.runtime = runtime  # type: ignore[attr-defined]
        yield c


async def send(client: TestClient, kind: str, **data: Any) -> dict[str, Any]:
    body, headers = signed(SECRET, {"type": kind, "data": data})
    resp = await client.post("/webhook/acme/events", data=body, headers=headers)
    assert resp.status == 200
    return await resp.json()


def contact(user_id: str, plan: str, **values: Any) -> dict[str, Any]:
    """A contact row as the operator's import would leave it (every column named, for a multi-row insert)."""
    columns = {"conversation_id": None, "locale": None, "timezone": None, "name": None} | values
    return {"profile": "acme", "channel": "webhook", "user_id": user_id, "attributes": {"plan": plan}} | columns


async def test_a_campaign_asks_through_the_webhook_and_reports_relational(
    client: TestClient, bridge: FakeBridge
) -> None:
    runtime: Runtime = client.runtime  # type: ignore[attr-defined]
    clock: FakeClock = runtime.service.clock  # type: ignore[assignment]
    # A transactional survey asks u2 today: the campaign must leave u2 out (one throttle for both kinds).
    assert (await send(client, "conversation.closed", conversation_id="t2", contact_id="u2"))["state"] == "asked"
    async with runtime.store.transaction() as conn:
        contacts = ContactRow.__table__
        await conn.execute(
            insert(contacts),
            [
                contact("u1", "pro", conversation_id="c1", locale="es", timezone="Europe/Madrid", name="Lucía"),
                contact("u3", "free"),
            ],
        )
        await conn.execute(contacts.update().where(contacts.c.user_id == "u2").values(attributes={"plan": "pro"}))

    assert await runtime.scheduler.run_due() == {}  # first seen: due at 09:00 in Madrid
    clock.now = START + timedelta(hours=1)
    counts = (await runtime.scheduler.run_due())["campaign:acme:quarterly"]
    assert (counts["due"], counts["created"], counts["throttled"], counts["outside"]) == (1, 1, 1, 1)

    async with runtime.store.read() as conn:
        [row] = (await conn.execute(select(SurveyRow.__table__).where(SurveyRow.kind == "relational"))).all()
    assert (row.state, row.campaign, row.conversation_id, row.locale, row.timezone) == (
        "pending", "quarterly", "c1", "es", "Europe/Madrid"
    )  # fmt: skip
    due = row.due_at.replace(tzinfo=UTC)
    assert clock.now <= due < clock.now + timedelta(days=1)

    await runtime.worker.drain()
    assert [r.json["conversation_id"] for r in bridge.at("/deliver")] == ["t2"]  # not asked before its time
    clock.now = due
    assert await runtime.service.tick() >= 1
    await runtime.worker.drain()
    question = bridge.at("/deliver")[-1].json
    assert question["type"] == "question" and question["conversation_id"] == "c1" and question["contact_id"] == "u1"
    assert "Acme" in question["text"] and [o["value"] for o in question["options"]] == list(range(11))

    out = await send(client, "message.received", conversation_id="c1", contact_id="u1", option=9,
                     survey_id=question["survey_id"])  # fmt: skip
    assert out["state"] == "scored"
    assert (await send(client, "message.received", conversation_id="c1", contact_id="u1", text="Todo bien"))[
        "state"
    ] == "completed"

    relational = await summary(runtime.store, Filters(profile="acme", kind="relational"))
    assert (relational.asked, relational.responses, relational.result.nps) == (1, 1, 100)
    transactional = await summary(runtime.store, Filters(profile="acme", kind="transactional"))
    assert (transactional.asked, transactional.responses) == (1, 0)
    by_campaign = await summary(runtime.store, Filters(profile="acme", campaign="quarterly"))
    assert by_campaign.responses == 1

    # The person answered: the same period run again asks nobody; the next period throttles them.
    again = await runtime.scheduler.run_job(runtime.scheduler.jobs[0], force=True)
    assert again is not None and again["created"] == 0
