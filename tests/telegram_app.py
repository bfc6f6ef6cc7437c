"""The app serving one `shop` profile on Telegram against the fake Bot API, and the calls the tests make on it;
shared by the Telegram test modules."""

from __future__ import annotations

import asyncio
import inspect
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.telegram_api import FakeTelegram
from core.store.tables import SurveyRow
from tests import telegram_updates as tg

TOKEN = "123456:TEST-token_abc"
SECRET = "s3cret-Token_1"
AGENT = tg.user(7, "Agnes", "en")
GROUP = -100555
SUPPORT = -100999
FAST = {"per_chat_per_second": 1000, "per_bot_per_second": 1000, "per_group_per_minute": 100000}
S = SurveyRow.__table__


async def telegram_fake() -> AsyncIterator[FakeTelegram]:
    """The fake Bot API (user 8 is a chat admin), as a fixture body: `fake = pytest.fixture(telegram_fake)`."""
    f = await FakeTelegram().start()
    f.admins.add(8)
    yield f
    await f.close()


def make_config(tmp_path, fake: FakeTelegram, **telegram: Any) -> dict:
    return {
        "database_url": f"sqlite:///{tmp_path / 'tg.db'}",
        "profiles": {
            "shop": {
                "brand": "Shop",
                "locale": "en",
                "policy": {"throttle": "0s"},
                "channels": {
                    "telegram": {
                        "token": TOKEN,
                        "secret_token": SECRET,
                        "api_base": fake.base,
                        "agents": [AGENT["id"]],
                        "support_chat_id": SUPPORT,
                        "topic_customers": {77: 5151},
                        **FAST,
                        **telegram,
                    }
                },
                "alerts": [{"channel": "telegram", "destination": str(SUPPORT)}],
            }
        },
    }


async def telegram_client(
    request: pytest.FixtureRequest, tmp_path: Path, fake: FakeTelegram, clock: Any
) -> AsyncIterator[TestClient]:
    """The app with one `shop` profile, as a fixture body: `client = pytest.fixture(telegram_client)`. Its database
    starts as a copy of the run's migrated SQLite file, as the store fixture's does."""
    shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "tg.db")
    runtime = Runtime(parse_config(make_config(tmp_path, fake), env={}), clock=clock)
    async with TestClient(TestServer(create_app(runtime))) as c:
        c.runtime = runtime  # type: ignore[attr-defined]
        yield c


async def post(client: TestClient, update: dict, secret: str | None = SECRET, profile: str = "shop") -> int:
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    resp = await client.post(f"/telegram/{profile}", json=update, headers=headers)
    await resp.read()
    return resp.status


async def deliver(client: TestClient) -> None:
    await client.runtime.worker.drain()  # type: ignore[attr-defined]


async def survey_row(client: TestClient, **where: Any) -> Any:
    async with client.runtime.store.read() as conn:  # type: ignore[attr-defined]
        q = select(S).order_by(S.c.id.desc())
        for k, v in where.items():
            q = q.where(S.c[k] == v)
        return (await conn.execute(q)).first()


async def detractor(client: TestClient, comment: str) -> int:
    """Ivo, asked in GROUP after an agent's /close, scores 3 and comments; the alert has gone out. The survey's id."""
    customer = tg.user(4245, "Ivo", "en")
    await post(client, tg.text_update(GROUP, AGENT, "/close", reply_to=tg.message(GROUP, customer, "meh")))
    survey_id = (await survey_row(client)).id
    await post(client, tg.text_update(GROUP, customer, "3"))
    await post(client, tg.text_update(GROUP, customer, comment))
    await deliver(client)
    return survey_id


def sent_texts(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [c.params["text"] for c in fake.of("sendMessage", chat_id)]


def labelled_ends(question: Any) -> tuple[str, str]:
    """The first and last button of a two-row 0–10 keyboard (checked to be two rows of 6 and 5)."""
    rows = question.params["reply_markup"]["inline_keyboard"]
    assert [len(r) for r in rows] == [6, 5]
    return rows[0][0]["text"], rows[-1][-1]["text"]


async def wait_for(check: Any, what: str) -> Any:
    """Poll until `check()` returns something truthy (the polling loop runs in the background)."""
    for _ in range(200):
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
