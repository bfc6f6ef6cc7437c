"""Erasure and the audit log along Slack's paths, on SQLite and PostgreSQL: a customer's score tap (whose delivery
key names them), their threaded comment, the alert with its Claim and Resolve buttons — the claim and resolution are
recorded with who pressed them, and erasing the customer leaves their Slack id, name and words nowhere."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient

from bots.sandbox.slack_api import FakeSlack
from core.store import Store
from tests import privacy_world as w
from tests import slack_requests as sl

NAME = "Griselda Pennywhistle"
COMMENT = "Took a week and the quarbex module still fails"
slack_fake = pytest.fixture(sl.slack_fake)


@pytest.fixture
async def client(store: Store, tmp_path, slack_fake: FakeSlack, clock) -> AsyncIterator[TestClient]:
    slack_fake.names[sl.CUSTOMER] = NAME
    async with sl.serve(tmp_path, slack_fake, clock, store=store) as c:
        await sl.post_json(c, sl.reaction())  # the agent closes the thread: the customer is asked
        row = await sl.survey(c)
        msg = {"ts": "1700000000.000001", "thread_ts": sl.ROOT_TS, "channel": sl.CHAN}
        await sl.post_form(c, sl.block_action(sl.CUSTOMER, f"{row.id}:2", "nps_score_2", msg))
        await sl.post_json(c, sl.thread_reply(COMMENT, "Ev0MSG0002"))
        await sl.deliver(c)
        [alert] = [m for m in slack_fake.of("chat.postMessage") if m.params["channel"] == "CLEADS"]
        alert_msg = {"ts": "1700000500.000001", "channel": "CLEADS", "blocks": alert.params["blocks"]}
        clock.advance(minutes=10)
        await sl.post_form(c, sl.block_action("ULEAD001", str(row.id), "nps_claim", alert_msg, "1700000600.1"))
        await sl.post_form(c, sl.block_action("UBOSS001", str(row.id), "nps_resolve", alert_msg, "1700000700.1"))
        c.survey_id = row.id  # type: ignore[attr-defined]
        yield c


async def test_button_claims_and_resolutions_are_recorded(client: TestClient) -> None:
    resp = await client.get("/api/v1/audit", headers=w.bearer(sl.ADMIN))
    followups = [e for e in (await resp.json())["items"] if e["action"] in ("claim", "resolve")]
    assert [(e["action"], e["actor"], e["profile"], e["target"]) for e in followups] == [
        ("resolve", "uboss001", "desk", f"survey:{client.survey_id}"),
        ("claim", "ulead001", "desk", f"survey:{client.survey_id}"),
    ]


async def test_erasing_a_slack_customer_leaves_nothing(client: TestClient, store: Store) -> None:
    needles = (sl.CUSTOMER, NAME, "Pennywhistle", "quarbex")
    found = await w.holding(store, needles)
    assert any(f.startswith("inbound_keys.key") for f in found), found  # the tap's key names the customer
    resp = await client.delete(f"/api/v1/contacts/slack/{sl.CUSTOMER}", headers=w.bearer(sl.ADMIN))
    assert resp.status == 200 and (await resp.json())["rows"]["inbound_keys"] >= 1
    assert await w.holding(store, needles) == []
    survey = await sl.survey(client)
    assert (survey.score, survey.category, survey.resolved_by) == (2, "detractor", "uboss001")
