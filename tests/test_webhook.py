"""The generic webhook channel, outbound events and the operator API, through the app with real signed requests."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from adapters.webhook import signing
from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.bridge import FakeBridge
from core.store.tables import OutboxRow
from tests.webhook_campaign import sandbox_bridge  # noqa: F401 - the `bridge` fixture
from tests.webhook_signing import check, signed

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OLD_SECRET = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ=="
SUB_SECRET = "whsec_" + "U1VCU1VCU1VCU1VCU1VCU1VCU1VCU1VCU1VCU1VC"
ADMIN, ACME_TOKEN, OTHER_TOKEN = "admin-token-1", "acme-token-1", "other-token-1"


def test_signature_matches_the_standard_webhooks_reference_vector() -> None:
    body = b'{"test": 2432232314}'
    sig = signing.sign(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.fixture
async def client(tmp_path, bridge: FakeBridge, clock):
    cfg = {
        "database_url": f"sqlite:///{tmp_path / 'wh.db'}",
        "admin_tokens": [ADMIN],
        "profiles": {
            "acme": {
                "brand": "Acme",
                "policy": {"throttle": "0s"},
                "api_tokens": [ACME_TOKEN],
                "channels": {
                    "webhook": {"secrets": [SECRET, OLD_SECRET], "deliver_url": bridge.url("/deliver")},
                    "memory": {},
                },
                "alerts": [{"channel": "webhook", "destination": bridge.url("/alerts")}],
                "subscriptions": [
                    {"url": bridge.url("/zap"), "secret": SUB_SECRET},
                    {"url": bridge.url("/gone"), "secret": SUB_SECRET, "events": ["survey.completed"]},
                ],
            },
            "other": {"brand": "Other", "api_tokens": [OTHER_TOKEN], "channels": {"memory": {}}},
        },
    }
    runtime = Runtime(parse_config(cfg, env={}), clock=clock)
    await runtime.store.migrate()
    async with TestClient(TestServer(create_app(runtime))) as c:
        c.runtime = runtime  # type: ignore[attr-defined]
        yield c


async def send(client: TestClient, payload: Any, secret: str = SECRET, profile: str = "acme", **kw: Any) -> Any:
    body, headers = signed(secret, payload, **kw)
    resp = await client.post(f"/webhook/{profile}/events", data=body, headers=headers)
    return resp.status, await resp.json()


def closed(conv: str = "c1", contact: str = "u1", **extra: Any) -> dict:
    return {"type": "conversation.closed", "data": {"conversation_id": conv, "contact_id": contact, **extra}}


def reply(conv: str = "c1", contact: str = "u1", **extra: Any) -> dict:
    return {"type": "message.received", "data": {"conversation_id": conv, "contact_id": contact, **extra}}


async def deliver(client: TestClient) -> None:
    await client.runtime.worker.drain()  # type: ignore[attr-defined]


async def test_full_loop_through_the_bridge(client: TestClient, bridge: FakeBridge) -> None:
    meta = {"ticket": 42, "tags": ["vip"], "nested": {"plan": "pro"}}
    status, out = await send(
        client, closed(agent="marta", team="care", locale="ca", customer_name="Jordi", metadata=meta)
    )
    assert status == 200 and out["state"] == "asked"
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        from sqlalchemy import select

        from core.store.tables import SurveyRow

        row = (await conn.execute(select(SurveyRow.__table__))).one()
    assert (row.agent, row.team, row.locale, row.customer_name, row.extra) == ("marta", "care", "ca", "Jordi", meta)
    await deliver(client)
    [question] = bridge.at("/deliver")
    assert check(SECRET, question.body, question.headers)
    q = question.json
    assert q["type"] == "question" and q["conversation_id"] == "c1" and q["contact_id"] == "u1"
    assert q["text"].startswith("Quina probabilitat hi ha que recomanis Acme")
    assert [o["value"] for o in q["options"]] == list(range(11))
    assert q["options"][0]["label"] == "0 · Gens probable" and q["options"][10]["label"] == "10 · Molt probable"

    status, out = await send(client, reply(option=3, survey_id=q["survey_id"]))
    assert (status, out["state"]) == (200, "scored")
    status, out = await send(client, reply(text="Massa lent"))
    assert (status, out["state"]) == (200, "completed")
    await deliver(client)
    kinds = [r.json["type"] for r in bridge.at("/deliver")]
    assert kinds == ["question", "question_answered", "follow_up", "message"]
    assert bridge.at("/deliver")[2].json["text"].startswith("Ens sap greu (3)")
    [alert] = bridge.at("/alerts")
    assert (
        alert.json["type"] == "detractor_alert" and alert.json["score"] == 3 and alert.json["comment"] == "Massa lent"
    )
    assert alert.json["agent"] == "marta" and check(SECRET, alert.body, alert.headers)
    events = [r.json for r in bridge.at("/zap")]
    assert [e["type"] for e in events] == ["survey.responded", "survey.completed", "detractor.created"]
    assert all(check(SUB_SECRET, r.body, r.headers) for r in bridge.at("/zap"))
    assert events[1]["data"]["comment"] == "Massa lent" and events[1]["data"]["agent"] == "marta"
    assert all(e["data"]["metadata"] == meta for e in events)  # the helpdesk's fields travel with every event
    sid = events[1]["data"]["id"]
    one = await (await client.get(f"/api/v1/responses/{sid}", headers=auth(ADMIN))).json()
    [listed] = (await (await client.get("/api/v1/responses", headers=auth(ADMIN))).json())["items"]
    assert one["metadata"] == listed["metadata"] == meta


async def test_replay_is_acknowledged_and_ignored(client: TestClient, bridge: FakeBridge) -> None:
    first = await send(client, closed(), msg_id="msg_same")
    second = await send(client, closed(), msg_id="msg_same")
    assert first[1]["status"] == "ok" and second == (200, {"status": "duplicate", "survey_id": None, "state": None})
    await deliver(client)
    assert len(bridge.at("/deliver")) == 1


async def test_signatures_timestamps_and_rotation(client: TestClient) -> None:
    assert (await send(client, closed("c1"), secret=OLD_SECRET))[0] == 200  # the previous secret still works
    wrong = "whsec_" + "V1JPTkdXUk9OR1dST05HV1JPTkdXUk9OR1dST05H"
    status, out = await send(client, closed("c2"), secret=wrong)
    assert status == 401 and out["error"] == "no signature matches"
    assert (await send(client, closed("c3"), ts=int(time.time()) - 301))[0] == 401
    assert (await send(client, closed("c4"), ts=int(time.time()) + 301))[0] == 401
    body, headers = signed(SECRET, closed("c5"))
    headers["webhook-signature"] = "v1,bm9wZQ== " + headers["webhook-signature"]  # several signatures, one valid
    assert (await client.post("/webhook/acme/events", data=body, headers=headers)).status == 200
    del headers["webhook-signature"]
    assert (await client.post("/webhook/acme/events", data=body, headers=headers)).status == 401


async def test_bad_input_gets_clear_errors(client: TestClient) -> None:
    status, out = await send(client, b"{not json")
    assert status == 400 and "malformed JSON" in out["error"]
    status, out = await send(client, {"type": "conversation.closed", "data": {"conversation_id": "c1"}})
    assert status == 400 and "contact_id" in out["error"]
    assert (await send(client, {"type": "nope"}))[0] == 400
    assert (await send(client, reply(option=11)))[0] == 400
    assert (await send(client, closed(), profile="missing"))[0] == 404
    body, headers = signed(SECRET, b"x" * (1024 * 1024 + 1))
    assert (await client.post("/webhook/acme/events", data=body, headers=headers)).status == 413
    assert (await send(client, closed()))[0] == 200  # still serving


async def test_gone_subscriber_is_dead_lettered_and_listed(client: TestClient, bridge: FakeBridge) -> None:
    bridge.answer("/gone", 410)
    await send(client, closed())
    await send(client, reply(option=10))
    await send(client, reply(text="Great"))
    await deliver(client)
    await send(client, closed("c2", "u2"))
    await send(client, reply("c2", "u2", option=9))
    await send(client, reply("c2", "u2", text="Good"))
    await deliver(client)
    assert len(bridge.at("/gone")) == 1  # marked gone: the second completion is not sent there
    resp = await client.get("/api/v1/dead-letters", headers={"Authorization": f"Bearer {ADMIN}"})
    [dead] = (await resp.json())["items"]
    assert dead["kind"] == "event_notice" and "410" in dead["last_error"]


async def test_bridge_429_and_500_are_retried(client: TestClient, bridge: FakeBridge, clock) -> None:
    bridge.answer("/deliver", 429, {"Retry-After": "9"})
    bridge.answer("/deliver", 503)
    await send(client, closed())
    await deliver(client)
    clock.advance(seconds=8)
    await deliver(client)
    assert len(bridge.at("/deliver")) == 1  # Retry-After: 9 is honoured
    clock.advance(seconds=1)
    await deliver(client)
    clock.advance(seconds=5)
    await deliver(client)
    assert [r.json["type"] for r in bridge.at("/deliver")] == ["question"] * 3
    assert len({r.headers["webhook-id"] for r in bridge.at("/deliver")}) == 1  # same id: receivers can dedup


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_api_close_on_any_channel_with_idempotency(client: TestClient) -> None:
    body = {"profile": "acme", "channel": "memory", "conversation_id": "m1", "user_id": "u9", "agent": "ana"}
    headers = {**auth(ACME_TOKEN), "Idempotency-Key": "ticket-1"}
    first = await client.post("/api/v1/conversations/close", json=body, headers=headers)
    again = await client.post("/api/v1/conversations/close", json=body, headers=headers)
    assert first.status == 200 and (await first.json())["survey"]["state"] == "asked"
    assert (await again.json())["status"] == "duplicate"
    await deliver(client)
    memory = client.runtime.channel("memory", "acme")
    assert [d.kind for d in memory.inbox("m1")] == ["ask_score"]
    reopen = {"profile": "acme", "channel": "memory", "conversation_id": "m1"}
    resp = await client.post("/api/v1/conversations/reopen", json=reopen, headers=auth(ACME_TOKEN))
    assert (await resp.json())["survey"]["skip_reason"] == "reopened"


async def test_api_auth_and_profile_isolation(client: TestClient) -> None:
    body = {"profile": "acme", "channel": "memory", "conversation_id": "m1", "user_id": "u1"}
    assert (await client.post("/api/v1/conversations/close", json=body)).status == 401
    assert (await client.post("/api/v1/conversations/close", json=body, headers=auth("nope"))).status == 401
    assert (await client.post("/api/v1/conversations/close", json=body, headers=auth(OTHER_TOKEN))).status == 403
    resp = await client.post("/api/v1/conversations/close", json={**body, "channel": "slack"}, headers=auth(ADMIN))
    assert resp.status == 422
    resp = await client.post("/api/v1/conversations/close", json={**body, "profile": "zzz"}, headers=auth(ADMIN))
    assert resp.status == 404
    resp = await client.post("/api/v1/conversations/close", data=b"{", headers=auth(ADMIN))
    assert resp.status == 400
    resp = await client.post("/api/v1/conversations/close", json={"profile": "acme"}, headers=auth(ADMIN))
    assert resp.status == 422 and "user_id" in (await resp.json())["error"]
    created = await client.post("/api/v1/conversations/close", json=body, headers=auth(ADMIN))
    sid = (await created.json())["survey"]["id"]
    assert (await client.get(f"/api/v1/responses/{sid}", headers=auth(ACME_TOKEN))).status == 200
    assert (await client.get(f"/api/v1/responses/{sid}", headers=auth(OTHER_TOKEN))).status == 404
    other = await client.get("/api/v1/responses", headers=auth(OTHER_TOKEN))
    assert (await other.json())["items"] == []
    assert (await client.get("/api/v1/responses?profile=acme", headers=auth(OTHER_TOKEN))).status == 403
    assert (await client.get("/api/v1/nps?profile=acme", headers=auth(OTHER_TOKEN))).status == 403


async def test_api_reads_responses_nps_csv_and_works_detractors(client: TestClient) -> None:
    for i, score in enumerate([10, 9, 8, 2, 0]):
        await send(client, closed(f"c{i}", f"u{i}", agent="ana" if i % 2 else "ben"))
        await send(client, reply(f"c{i}", f"u{i}", option=score))
        await send(client, reply(f"c{i}", f"u{i}", text=f"comment {i}"))
    page = await (await client.get("/api/v1/responses?limit=2", headers=auth(ACME_TOKEN))).json()
    assert [i["score"] for i in page["items"]] == [0, 2] and page["next_cursor"]
    rest = await (
        await client.get(f"/api/v1/responses?limit=10&cursor={page['next_cursor']}", headers=auth(ACME_TOKEN))
    ).json()
    assert [i["score"] for i in rest["items"]] == [8, 9, 10] and rest["next_cursor"] is None
    det = await (await client.get("/api/v1/responses?category=detractor", headers=auth(ADMIN))).json()
    assert sorted(i["score"] for i in det["items"]) == [0, 2]

    nps = await (await client.get("/api/v1/nps?by=agent", headers=auth(ACME_TOKEN))).json()
    assert nps["summary"]["nps"] == 0.0 and nps["summary"]["responses"] == 5
    assert {row["key"]: row["responses"] for row in nps["breakdown"]} == {"ben": 3, "ana": 2}

    resp = await client.get("/api/v1/responses.csv", headers=auth(ACME_TOKEN))
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert resp.content_type == "text/csv" and sorted(int(r["score"]) for r in rows) == [0, 2, 8, 9, 10]
    assert {r["comment"] for r in rows} == {f"comment {i}" for i in range(5)}

    open_items = await (await client.get("/api/v1/detractors?status=open", headers=auth(ACME_TOKEN))).json()
    sid = open_items["items"][0]["id"]
    assert len(open_items["items"]) == 2
    r = await client.post(f"/api/v1/detractors/{sid}/claim", json={"by": "lea"}, headers=auth(ACME_TOKEN))
    assert (await r.json())["status"] == "claimed"
    r = await client.post(f"/api/v1/detractors/{sid}/resolve", json={"by": "lea"}, headers=auth(ACME_TOKEN))
    assert (await r.json()) == {"survey_id": sid, "status": "resolved", "claimed_by": "lea", "resolved_by": "lea"}
    resolved = await (await client.get("/api/v1/detractors?status=resolved", headers=auth(ACME_TOKEN))).json()
    assert [i["id"] for i in resolved["items"]] == [sid]
    promoter = page["items"][0]["id"] - 4
    r = await client.post(f"/api/v1/detractors/{promoter}/claim", json={"by": "lea"}, headers=auth(ACME_TOKEN))
    assert r.status == 404


async def test_timestamps_within_five_minutes_either_way_are_accepted(client: TestClient) -> None:
    now = int(time.time())
    assert (await send(client, closed("t1", "u1"), ts=now - 295))[0] == 200
    assert (await send(client, closed("t2", "u2"), ts=now + 295))[0] == 200
    for stamp in ("abc", "1e9", " 1700000000", "-5", "+1700000000", "1_700_000_000", "١٧٠٠٠٠٠٠٠٠", "9" * 400):
        body, headers = signed(SECRET, closed("t3"))
        headers["webhook-timestamp"] = stamp
        resp = await client.post("/webhook/acme/events", data=body, headers=headers)
        assert resp.status == 401, stamp
        assert "timestamp" in (await resp.json())["error"]


async def test_signature_header_oddities_are_refused(client: TestClient) -> None:
    for sig in ("v1,!!!", "v1,", "v2,abc", "v1", ",", "v1,é", "v1,a,b", "v1," + "A" * 4000):
        body, headers = signed(SECRET, closed("s1"))
        headers["webhook-signature"] = sig
        resp = await client.post("/webhook/acme/events", data=body, headers=headers)
        assert resp.status == 401 and (await resp.json())["error"] == "no signature matches", sig
    body, headers = signed(SECRET, closed("s1"))
    headers["webhook-signature"] = f"v2,abc  v1,bm9wZQ== {headers['webhook-signature']}"  # an unknown version too
    assert (await client.post("/webhook/acme/events", data=body, headers=headers)).status == 200


async def test_a_replayed_id_with_another_body_is_still_ignored(client: TestClient) -> None:
    assert (await send(client, closed("r1"), msg_id="msg_r"))[1]["status"] == "ok"
    status, out = await send(client, closed("r2"), msg_id="msg_r")
    assert (status, out["status"]) == (200, "duplicate")
    long_a, long_b = "msg_" + "a" * 300, "msg_" + "a" * 299 + "b"  # longer than the key column: hashed, not cut
    assert (await send(client, closed("r3"), msg_id=long_a))[1]["status"] == "ok"
    assert (await send(client, closed("r4"), msg_id=long_b))[1]["status"] == "ok"
    assert (await send(client, closed("r3"), msg_id=long_a))[1]["status"] == "duplicate"


async def test_replies_are_strictly_typed(client: TestClient) -> None:
    await send(client, closed())
    for bad in ({"option": True}, {"option": "9"}, {"option": 9.5}, {"option": -1}, {"survey_id": 2**64}):
        status, out = await send(client, reply(**bad))
        assert status == 400 and "invalid event" in out["error"], bad
    status, out = await send(client, reply(text="nueve\x00"))  # NUL is dropped, the reply still counts
    assert (status, out["state"]) == (200, "scored")
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        from sqlalchemy import select

        from core.store.tables import SurveyRow

        assert (await conn.execute(select(SurveyRow.score))).scalar_one() == 9


async def test_bridge_410_marks_the_contact_unreachable(client: TestClient, bridge: FakeBridge, clock) -> None:
    bridge.answer("/deliver", 410)
    await send(client, closed("g1", "gone-user"))
    await deliver(client)
    assert len(bridge.at("/deliver")) == 1  # not retried
    clock.advance(days=1)
    status, out = await send(client, closed("g2", "gone-user"))
    assert (status, out["state"]) == (200, "skipped")
    await deliver(client)
    assert len(bridge.at("/deliver")) == 1  # nothing more sent to a contact the bridge says is gone
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        from sqlalchemy import select

        from core.store.tables import SurveyRow

        reasons = (await conn.execute(select(SurveyRow.skip_reason).order_by(SurveyRow.id))).scalars().all()
    assert reasons == ["unreachable", "unreachable"]


async def test_subscriber_5xx_is_retried_with_the_same_id(client: TestClient, bridge: FakeBridge, clock) -> None:
    bridge.answer("/zap", 500, times=2)
    await send(client, closed())
    await send(client, reply(option=9))
    responded_at = clock()
    await deliver(client)
    for _ in range(6):
        clock.advance(minutes=5)
        await deliver(client)
    attempts = [r for r in bridge.at("/zap") if r.json["type"] == "survey.responded"]
    assert len(attempts) == 3  # two 500s, then accepted
    assert len({r.headers["webhook-id"] for r in attempts}) == 1
    assert {tuple(r.json) for r in attempts} == {("type", "timestamp", "data")}
    assert {r.json["timestamp"] for r in attempts} == {responded_at.isoformat()}  # when it happened, every try
    assert all(check(SUB_SECRET, r.body, r.headers) for r in attempts)
    assert attempts[-1].json["data"]["score"] == 9 and attempts[-1].json["data"]["category"] == "promoter"


async def test_a_profile_token_cannot_write_another_profile(client: TestClient) -> None:
    for i, score in enumerate([2, 10]):
        await send(client, closed(f"w{i}", f"w{i}"))
        await send(client, reply(f"w{i}", f"w{i}", option=score))
        await send(client, reply(f"w{i}", f"w{i}", text="meh"))
    [det] = (await (await client.get("/api/v1/detractors", headers=auth(ACME_TOKEN))).json())["items"]
    for action in ("claim", "resolve"):
        r = await client.post(f"/api/v1/detractors/{det['id']}/{action}", json={"by": "x"}, headers=auth(OTHER_TOKEN))
        assert r.status == 404  # another profile's ids are not revealed
    assert (await (await client.get("/api/v1/detractors", headers=auth(OTHER_TOKEN))).json())["items"] == []
    assert (await client.get("/api/v1/detractors?profile=acme", headers=auth(OTHER_TOKEN))).status == 403
    assert (await client.get("/api/v1/responses.csv?profile=acme", headers=auth(OTHER_TOKEN))).status == 403
    assert (await client.get("/api/v1/dead-letters?profile=acme", headers=auth(OTHER_TOKEN))).status == 403
    reopen = {"profile": "acme", "channel": "webhook", "conversation_id": "w0"}
    assert (await client.post("/api/v1/conversations/reopen", json=reopen, headers=auth(OTHER_TOKEN))).status == 403
    csv_text = await (await client.get("/api/v1/responses.csv", headers=auth(OTHER_TOKEN))).text()
    assert len(list(csv.DictReader(io.StringIO(csv_text)))) == 0
    [still] = (await (await client.get("/api/v1/detractors", headers=auth(ACME_TOKEN))).json())["items"]
    assert (still["id"], still["status"]) == (det["id"], "open")  # the refused claim changed nothing


async def test_idempotency_key_longer_than_documented_is_refused(client: TestClient) -> None:
    body = {"profile": "acme", "channel": "memory", "conversation_id": "k1", "user_id": "u1"}
    headers = {**auth(ACME_TOKEN), "Idempotency-Key": "k" * 201}
    resp = await client.post("/api/v1/conversations/close", json=body, headers=headers)
    assert resp.status == 422 and "Idempotency-Key" in (await resp.json())["error"]


async def test_openapi_document_is_served_and_matches_the_validation_bounds(client: TestClient) -> None:
    from bots.api.models import MAX_ID
    from bots.api.openapi import spec
    from core.store.tables import ContactRow, SurveyRow

    resp = await client.get("/api/v1/openapi.json")
    doc = await resp.json()
    assert resp.status == 200 and doc == spec() and doc["openapi"].startswith("3.")
    params = {p["name"]: p["schema"] for p in doc["paths"]["/api/v1/responses"]["get"]["parameters"]}
    assert params["cursor"] == {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    assert params["since"] == params["until"] and params["since"]["format"] == "date-time"  # + the years accepted
    close = doc["components"]["schemas"]["CloseBody"]["properties"]
    assert close["user_id"]["maxLength"] == ContactRow.__table__.c.user_id.type.length  # what the column holds
    assert close["conversation_id"]["maxLength"] == SurveyRow.__table__.c.conversation_id.type.length
    assert close["agent"]["nullable"] is True and "anyOf" not in close["agent"]  # OpenAPI 3.0 has no "null" type


async def test_csv_export_defuses_formulas_and_keeps_numbers(client: TestClient) -> None:
    """OWASP CSV injection: a cell a spreadsheet would run (= + - @ tab CR first) starts with a single quote;
    numbers, and text that is only a number, are left as they are."""
    starts = ["=", "+", "-", "@", "\t", "\r"]
    for i, start in enumerate(starts):
        name, text = f'{start}HYPERLINK("http://x.example/?{i}")', f"{start}cmd|' /C calc'!A{i}"
        await send(client, closed(f"f{i}", f"f{i}", customer_name=name, agent=f"{start}agent", team=f"{start}team"))
        await send(client, reply(f"f{i}", f"f{i}", option=i))
        await send(client, reply(f"f{i}", f"f{i}", text=text))
    await send(client, closed("n1", "n1", customer_name="-5"))
    await send(client, reply("n1", "n1", option=10))
    await send(client, reply("n1", "n1", text="+1"))
    stored = {
        r["conversation_id"]: r
        for r in (await (await client.get("/api/v1/responses", headers=auth(ACME_TOKEN))).json())["items"]
    }
    resp = await client.get("/api/v1/responses.csv", headers=auth(ACME_TOKEN))
    rows = {r["conversation_id"]: r for r in csv.DictReader(io.StringIO(await resp.text(), newline=""))}
    for i, start in enumerate(starts):
        row, raw = rows[f"f{i}"], stored[f"f{i}"]
        assert raw["customer_name"].startswith(start) and row["customer_name"] == "'" + raw["customer_name"]
        assert row["agent"] == f"'{start}agent" and row["team"] == f"'{start}team"
        # the service trims a comment, so a leading tab or CR never reaches it; the others are defused
        expected = "'" + raw["comment"] if raw["comment"].startswith(tuple(starts)) else raw["comment"]
        assert row["comment"] == expected and (start in "\t\r" or expected.startswith("'" + start))
        assert row["score"] == str(i)  # a number, unquoted
    assert (rows["n1"]["customer_name"], rows["n1"]["comment"], rows["n1"]["score"]) == ("-5", "+1", "10")


async def test_a_bridge_that_never_answers_is_cut_off_by_the_sessions_timeout(client: TestClient) -> None:
    """The worker leaves a webhook send to the channel's session, whose total timeout ends its one request: a bridge
    that never answers makes a failure to retry, not a send that hangs."""
    never = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await never.wait()
        return web.Response()

    app = web.Application()
    app.router.add_post("/deliver", hang)
    async with TestServer(app) as silent:
        runtime = client.runtime  # type: ignore[attr-defined]
        channel = runtime.channel("webhook", "acme")
        channel.config.deliver_url = str(silent.make_url("/deliver"))
        await channel.stop()  # the app's start opened its session: the next send opens one with this timeout
        channel.request_timeout = 0.2
        assert channel.send_bound == 0.2 < runtime.worker.settings.send_timeout
        await send(client, closed())
        await deliver(client)
        never.set()
        assert channel.session.timeout.total == 0.2  # the session that cut the request off
    async with runtime.store.read() as conn:
        [row] = (await conn.execute(select(OutboxRow.__table__).where(OutboxRow.channel == "webhook"))).all()
    assert (row.status, row.attempts) == ("pending", 1)
    assert "Timeout" in row.last_error
