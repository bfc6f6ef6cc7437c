"""The Graph API client at the wire, against the sandbox's FakeGraph: the token travels in the Authorization header
only, every path segment is checked before anything is sent, Graph's error envelope becomes a GraphError naming
codes and never Meta's text, and a redirect is never followed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from adapters.http import client_session, failure_text
from adapters.metagraph.client import BadSegment, GraphClient, GraphError, parse_error, segment
from bots.sandbox.graph_api import ERRORS, FakeGraph
from core.delivery import DeliveryError, PermanentFailure, RetryLater

TOKEN = "EAAGm0PX4ZCpsBAtestaccesstoken"
WHATSAPP_TEXT = {"messaging_product": "whatsapp", "to": "16505551234", "type": "text", "text": {"body": "Hi"}}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with client_session() as s:
        yield s


async def test_a_send_carries_the_token_as_a_bearer_header_and_never_in_the_url(fake_graph, session) -> None:
    client = GraphClient(session, fake_graph.base, TOKEN)
    answer = await client.post(["106540352242922", "messages"], WHATSAPP_TEXT)
    sent = fake_graph.sent[-1]
    assert sent.raw_path == "/v21.0/106540352242922/messages"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in sent.raw_path
    assert all(TOKEN not in h.raw_path for h in fake_graph.heard)
    assert sent.json == WHATSAPP_TEXT
    assert answer["messaging_product"] == "whatsapp"
    assert answer["messages"][0]["id"] == sent.message_id and sent.message_id.startswith("wamid.")
    assert answer["contacts"] == [{"input": "16505551234", "wa_id": "16505551234"}]


async def test_messenger_and_instagram_answers_carry_recipient_and_message_id(fake_graph, session) -> None:
    client = GraphClient(session, fake_graph.base + "/", TOKEN)  # a trailing slash on api_base is harmless
    payload = {"recipient": {"id": "1254459154682919"}, "messaging_type": "RESPONSE", "message": {"text": "Hi"}}
    answer = await client.post(["me", "messages"], payload)
    assert fake_graph.sent[-1].raw_path == "/v21.0/me/messages"
    assert answer["recipient_id"] == "1254459154682919"
    assert answer["message_id"].startswith("m_")


async def test_a_get_sends_its_query_and_reads_the_profile(fake_graph, session) -> None:
    fake_graph.profiles["1254459154682919"] = {"first_name": "Peter", "last_name": "Chang", "locale": "es_ES"}
    client = GraphClient(session, fake_graph.base, TOKEN)
    found = await client.get(["1254459154682919"], {"fields": "first_name,locale"})
    assert found == {"id": "1254459154682919", "first_name": "Peter", "locale": "es_ES"}
    assert fake_graph.heard[-1].headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    "bad", ["..", ".", "", "a/b", "me?x=1", "%2e%2e", "me#frag", "ünï", "a b", "x" * 129, "me\n", "1\x00"]
)
async def test_a_segment_that_is_not_an_id_is_refused_before_anything_is_sent(fake_graph, session, bad: str) -> None:
    client = GraphClient(session, fake_graph.base, TOKEN)
    with pytest.raises(BadSegment) as caught:
        await client.post([bad, "messages"], WHATSAPP_TEXT)
    assert isinstance(caught.value, PermanentFailure)  # a dead letter, never retried
    assert fake_graph.heard == []


def test_valid_segments_pass_unchanged() -> None:
    assert [segment(s) for s in ("106540352242922", "me", "messages", "v21.0", "a_b-c")] == [
        "106540352242922", "me", "messages", "v21.0", "a_b-c",
    ]  # fmt: skip
    with pytest.raises(BadSegment):
        segment(123)  # type: ignore[arg-type]


def test_api_base_must_be_an_absolute_http_url() -> None:
    for bad in ("graph.facebook.com/v21.0", "ftp://graph.facebook.com", "", "https://"):
        with pytest.raises(ValueError):
            GraphClient(None, bad, TOKEN)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "code", "subcode", "status"),
    [
        ("whatsapp_rate_limit", 130429, None, 400),
        ("whatsapp_pair_rate_limit", 131056, None, 400),
        ("whatsapp_outside_window", 131047, None, 400),
        ("whatsapp_undeliverable", 131026, None, 400),
        ("invalid_token", 190, 463, 401),
        ("messenger_outside_window", 10, 2018278, 400),
        ("messenger_unavailable", 551, 1545041, 400),
        ("temporary", 2, None, 500),
    ],
)
async def test_an_error_envelope_becomes_a_graph_error_with_codes_only(
    fake_graph, session, name: str, code: int, subcode: int | None, status: int
) -> None:
    fake_graph.fail(**ERRORS[name])
    client = GraphClient(session, fake_graph.base, TOKEN)
    with pytest.raises(GraphError) as caught:
        await client.post(["106540352242922", "messages"], WHATSAPP_TEXT)
    err = caught.value
    assert (err.status, err.code, err.subcode, err.type) == (status, code, subcode, "OAuthException")
    text = str(err)
    assert str(code) in text and f"HTTP {status}" in text
    assert ERRORS[name]["message"] not in text and "fbtrace" not in text.lower()
    assert failure_text(err) == text  # what a dead letter keeps
    # the next send goes through: the fault was for one send only
    assert (await client.post(["106540352242922", "messages"], WHATSAPP_TEXT))["messages"]


async def test_a_graph_error_never_carries_what_the_other_host_wrote(fake_graph, session) -> None:
    secret = "customer said: my card number is 4111 1111 1111 1111"
    fake_graph.fail(131026, message=secret, type="Injected type with spaces and text", details=secret)
    with pytest.raises(GraphError) as caught:
        await GraphClient(session, fake_graph.base, TOKEN).post(["1", "messages"], WHATSAPP_TEXT)
    assert "4111" not in str(caught.value) and "customer" not in str(caught.value)
    assert caught.value.type is None  # not a name Meta uses: dropped rather than echoed


async def test_retry_after_is_read_when_a_proxy_sends_it(fake_graph, session) -> None:
    fake_graph.fail(130429, retry_after=7)
    with pytest.raises(GraphError) as caught:
        await GraphClient(session, fake_graph.base, TOKEN).post(["1", "messages"], WHATSAPP_TEXT)
    assert caught.value.retry_after == 7.0


async def test_metas_own_wait_is_read_from_the_usage_header(fake_graph, session) -> None:
    fake_graph.fail(**ERRORS["messenger_rate_limit"], regain_minutes=15)
    with pytest.raises(GraphError) as caught:
        await GraphClient(session, fake_graph.base, TOKEN).post(["me", "messages"], {"recipient": {"id": "1"}})
    assert (caught.value.code, caught.value.retry_after) == (613, 900.0)
    fake_graph.fail(613, regain_minutes=15, retry_after=30)  # a Retry-After wins
    with pytest.raises(GraphError) as caught:
        await GraphClient(session, fake_graph.base, TOKEN).post(["me", "messages"], {"recipient": {"id": "1"}})
    assert caught.value.retry_after == 30.0


@pytest.mark.parametrize(
    "usage", ["not json", "[]", '{"1": "x"}', '{"1": [{"estimated_time_to_regain_access": "soon"}]}',
              '{"1": [{"estimated_time_to_regain_access": 0}]}', '{"1": [{"estimated_time_to_regain_access": true}]}',
              "[" * 5000],
)  # fmt: skip
async def test_a_usage_header_that_names_no_wait_gives_none(fake_graph, session, usage: str) -> None:
    fake_graph.fail(613, usage=usage)
    with pytest.raises(GraphError) as caught:
        await GraphClient(session, fake_graph.base, TOKEN).post(["me", "messages"], {"recipient": {"id": "1"}})
    assert caught.value.code == 613 and caught.value.retry_after is None


async def test_an_unknown_token_is_refused_with_190(fake_graph, session) -> None:
    fake_graph.tokens = {"the-right-token"}
    with pytest.raises(GraphError) as caught:
        await GraphClient(session, fake_graph.base, TOKEN).post(["1", "messages"], WHATSAPP_TEXT)
    assert (caught.value.code, caught.value.status) == (190, 401)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_is_never_followed(fake_graph, session, status: int) -> None:
    elsewhere = await FakeGraph().start()
    try:
        fake_graph.misbehave(status, redirect_to=elsewhere.url().rstrip("/"))
        with pytest.raises(PermanentFailure) as caught:
            await GraphClient(session, fake_graph.base, TOKEN).post(["1", "messages"], WHATSAPP_TEXT)
        assert str(caught.value) == f"{status} redirect refused"
        assert elsewhere.heard == []  # the token went nowhere else
    finally:
        await elsewhere.close()


@pytest.mark.parametrize(
    ("status", "error"),
    [(429, RetryLater), (502, DeliveryError), (503, DeliveryError), (408, DeliveryError), (404, PermanentFailure)],
)
async def test_an_answer_without_an_envelope_maps_on_its_status_and_names_no_body(
    fake_graph, session, status: int, error: type[Exception]
) -> None:
    fake_graph.misbehave(status, b"<html>upstream said something private</html>", reason="Private Reason Text")
    with pytest.raises(error) as caught:
        await GraphClient(session, fake_graph.base, TOKEN).post(["1", "messages"], WHATSAPP_TEXT)
    assert not isinstance(caught.value, GraphError)
    assert "private" not in str(caught.value).lower()
    assert str(caught.value).startswith(str(status))


async def test_a_2xx_answer_that_is_not_json_counts_as_sent(fake_graph, session) -> None:
    fake_graph.misbehave(200, b"not json")
    assert await GraphClient(session, fake_graph.base, TOKEN).post(["1", "messages"], WHATSAPP_TEXT) == {}


async def test_an_unreachable_graph_is_a_delivery_error_to_retry(session) -> None:
    fake_graph = await FakeGraph().start()
    base = fake_graph.base
    await fake_graph.close()
    with pytest.raises(DeliveryError) as caught:
        await GraphClient(session, base, TOKEN).post(["1", "messages"], WHATSAPP_TEXT)
    assert not isinstance(caught.value, PermanentFailure)
    assert "unreachable" in str(caught.value)


def test_parse_error_reads_only_graph_envelopes() -> None:
    assert parse_error(400, b"[]") is None
    assert parse_error(400, b'{"error": "text"}') is None
    assert parse_error(400, b"\xff") is None
    err = parse_error(400, b'{"error": {"code": true, "error_subcode": "2018278", "type": "OAuthException"}}')
    assert err is not None and (err.code, err.subcode, err.type) == (None, None, "OAuthException")
