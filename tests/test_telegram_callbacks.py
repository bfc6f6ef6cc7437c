"""Button taps are client input: who may Claim / Resolve a detractor alert, which profile's survey a tap may touch,
and callback data out of bounds. Each goes through the real webhook route with the secret header."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from adapters.telegram.keyboards import FollowUpAction, Vote
from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.telegram_api import FakeTelegram
from core.store.tables import InboundKeyRow, OutboxRow, SurveyRow
from tests import telegram_updates as tg
from tests.telegram_app import AGENT, FAST, GROUP, SUPPORT, deliver, make_config, post, telegram_fake

fake = pytest.fixture(telegram_fake)

CAFE_TOKEN = "654321:CAFE-token_xyz"
CAFE_SECRET = "cafe-Secret_2"
CAFE_ALERTS = -100888
CAFE_AGENT = tg.user(71, "Carmen", "en")
NOT_ALLOWED = "Only the support team where this alert was posted can do that."
CLOSED = "This survey is closed. Thank you!"
S = SurveyRow.__table__


@pytest.fixture
async def client(tmp_path, fake: FakeTelegram, clock) -> Any:
    """Two profiles, each with its own bot, secret, alert chat and agents, on one server and one database."""
    cfg = make_config(tmp_path, fake)
    cfg["profiles"]["cafe"] = {
        "brand": "Cafe",
        "locale": "en",
        "policy": {"throttle": "0s"},
        "channels": {
            "telegram": {
                "token": CAFE_TOKEN,
                "secret_token": CAFE_SECRET,
                "api_base": fake.base,
                "agents": [CAFE_AGENT["id"]],
                **FAST,
            }
        },
        "alerts": [{"channel": "telegram", "destination": str(CAFE_ALERTS)}],
    }
    runtime = Runtime(parse_config(cfg, env={}), clock=clock)
    await runtime.store.migrate()
    async with TestClient(TestServer(create_app(runtime))) as c:
        c.runtime = runtime  # type: ignore[attr-defined]
        yield c


async def to_cafe(client: TestClient, update: dict) -> int:
    return await post(client, update, CAFE_SECRET, profile="cafe")


async def asked_survey(client: TestClient, customer: dict) -> int:
    """A survey of the `shop` profile asked in GROUP; returns its id."""
    await post(client, tg.text_update(GROUP, AGENT, "/close", reply_to=tg.message(GROUP, customer, "hello")))
    await deliver(client)
    return (await surveys(client))[-1]["id"]


async def detractor(client: TestClient, fake: FakeTelegram, customer: dict) -> tuple[int, dict[str, Any]]:
    """A completed `shop` detractor; returns its id and the alert's message as the support chat shows it."""
    sid = await asked_survey(client, customer)
    await post(client, tg.text_update(GROUP, customer, "2"))
    await post(client, tg.text_update(GROUP, customer, "Nobody came back to me"))
    await deliver(client)
    alert = fake.of("sendMessage", SUPPORT)[-1]
    shown = {"text": alert.params["text"], "markup": alert.params["reply_markup"]}
    return sid, {"message_id": alert.result["message_id"], **shown}


async def surveys(client: TestClient) -> list[dict[str, Any]]:
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        rows = (await conn.execute(select(S).order_by(S.c.id))).all()
    return [dict(r._mapping) for r in rows]


async def stored(client: TestClient) -> tuple[Any, ...]:
    """Everything a tap could change: every survey, the dedup keys taken and the messages queued."""
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        keys = (await conn.execute(select(func.count()).select_from(InboundKeyRow.__table__))).scalar_one()
        queued = (await conn.execute(select(func.count()).select_from(OutboxRow.__table__))).scalar_one()
    return tuple(tuple(sorted(r.items())) for r in await surveys(client)), keys, queued


def edits(fake: FakeTelegram) -> int:
    return len(fake.of("editMessageText")) + len(fake.of("editMessageReplyMarkup"))


def last_toast(fake: FakeTelegram) -> str:
    return fake.of("answerCallbackQuery")[-1].params["text"]


def tap(who: dict, chat: int, data: str, shown: dict[str, Any] | None = None) -> dict:
    """A tap on the message `shown` (its id, text and keyboard), or on some message of the bot."""
    shown = dict(shown or {"message_id": 4000})
    return tg.callback_update(who, chat, shown.pop("message_id"), data, **shown)


async def test_claim_sent_to_another_profiles_bot_changes_nothing(client: TestClient, fake: FakeTelegram) -> None:
    """Cafe's own agent, in cafe's own alert chat, names shop's detractor: cafe's bot knows no such detractor."""
    sid, _ = await detractor(client, fake, tg.user(4401, "Ivo", "en"))
    before, edited = await stored(client), edits(fake)
    for action in ("c", "r"):
        data = FollowUpAction(s=sid, a=action).pack()
        assert await to_cafe(client, tap(CAFE_AGENT, CAFE_ALERTS, data)) == 200
        assert last_toast(fake) == CLOSED
    assert await stored(client) == before
    assert edits(fake) == edited


@pytest.mark.parametrize("where", ["customer_private_chat", "group_admin_elsewhere", "customer_in_group"])
async def test_claim_outside_the_alert_chat_is_refused(client: TestClient, fake: FakeTelegram, where: str) -> None:
    customer = tg.user(4402, "Ivo", "en")
    sid, shown = await detractor(client, fake, customer)
    who, chat = {
        "customer_private_chat": (customer, customer["id"]),
        "group_admin_elsewhere": (tg.user(8, "Admin", "en"), GROUP),  # a chat administrator, but not of SUPPORT
        "customer_in_group": (customer, GROUP),
    }[where]
    before, edited = await stored(client), edits(fake)
    for action in ("c", "r"):
        assert await post(client, tap(who, chat, FollowUpAction(s=sid, a=action).pack(), shown)) == 200
        assert last_toast(fake) == NOT_ALLOWED
    assert await stored(client) == before
    assert edits(fake) == edited


async def test_refusal_is_in_the_tappers_language(client: TestClient, fake: FakeTelegram) -> None:
    customer = tg.user(4403, "Lucía", "es")
    sid, shown = await detractor(client, fake, customer)
    await post(client, tap(customer, customer["id"], FollowUpAction(s=sid, a="r").pack(), shown))
    assert last_toast(fake) == "Solo el equipo de soporte donde se publicó esta alerta puede hacerlo."


async def test_listed_agent_may_claim_from_a_private_chat(client: TestClient, fake: FakeTelegram) -> None:
    sid, shown = await detractor(client, fake, tg.user(4404, "Ivo", "en"))
    assert await post(client, tap(AGENT, AGENT["id"], FollowUpAction(s=sid, a="c").pack(), shown)) == 200
    assert last_toast(fake) == "Claimed by Agnes Tomer"
    row = (await surveys(client))[-1]
    assert (row["claimed_by"], row["resolved_by"]) == ("Agnes Tomer", None)


async def test_anyone_in_the_alert_chat_may_resolve(client: TestClient, fake: FakeTelegram) -> None:
    sid, shown = await detractor(client, fake, tg.user(4405, "Ivo", "en"))
    lead = tg.user(9, "Lea", "en")  # neither a listed agent nor an administrator: a member of the alert chat
    assert await post(client, tap(lead, SUPPORT, FollowUpAction(s=sid, a="r").pack(), shown)) == 200
    assert last_toast(fake) == "Resolved by Lea Tomer"
    assert (await surveys(client))[-1]["resolved_by"] == "Lea Tomer"


async def test_vote_sent_to_another_profiles_bot_changes_nothing(client: TestClient, fake: FakeTelegram) -> None:
    """The survey's own customer, in the survey's own chat, but through cafe's bot: cafe has no such survey."""
    customer = tg.user(4406, "Dana", "en")
    sid = await asked_survey(client, customer)
    before, edited = await stored(client), edits(fake)
    assert await to_cafe(client, tap(customer, GROUP, Vote(s=sid, n=0).pack())) == 200
    assert last_toast(fake) == CLOSED
    await deliver(client)
    after = await stored(client)
    assert after[0] == before[0] and after[2] == before[2]  # only the update's dedup key was taken
    assert edits(fake) == edited
    row = (await surveys(client))[-1]
    assert (row["state"], row["score"]) == ("asked", None)


async def test_vote_for_another_customers_survey_changes_nothing(client: TestClient, fake: FakeTelegram) -> None:
    sid = await asked_survey(client, tg.user(4407, "Dana", "en"))
    before, edited = await stored(client), edits(fake)
    assert await post(client, tap(tg.user(4999, "Mallory", "en"), GROUP, Vote(s=sid, n=0).pack())) == 200
    assert last_toast(fake) == "This survey is for the customer in this conversation."
    await deliver(client)
    assert (await stored(client))[0] == before[0] and edits(fake) == edited


OUT_OF_BOUNDS = [
    "v:{sid}:11",
    "v:{sid}:-1",
    "v:{sid}:100000000000000000000",
    "v:{sid}:1.5",
    "v:{sid}:",
    "v:{sid}:5:5",
    "v:18446744073709551616:5",  # 2**64
    "v:9223372036854775808:5",  # 2**63: one past the largest 64-bit id
    "v:0:5",
    "v:-{sid}:5",
    "v::5",
    "f:{sid}:x",
    "f:{sid}:",
    "f:{sid}:cr",
    "f:18446744073709551616:c",
    "f:-{sid}:r",
    "f:{sid}",
]


@pytest.mark.parametrize("pattern", OUT_OF_BOUNDS)
async def test_callback_data_out_of_bounds_gets_a_toast_and_changes_nothing(
    client: TestClient, fake: FakeTelegram, pattern: str
) -> None:
    """Sent as the asked survey's customer in its chat, then as an agent in the alert chat naming the detractor."""
    sid, shown = await detractor(client, fake, tg.user(4410, "Ivo", "en"))
    customer = tg.user(4411, "Olga", "en")
    asked = await asked_survey(client, customer)
    before, edited = await stored(client), edits(fake)
    for who, chat, target in ((customer, GROUP, asked), (AGENT, SUPPORT, sid)):
        data = pattern.format(sid=target)
        assert await post(client, tap(who, chat, data, shown)) == 200, data
        assert last_toast(fake) == CLOSED
    assert await stored(client) == before
    assert edits(fake) == edited
