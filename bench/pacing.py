"""Pacing bench: messages queued at once for Telegram chats, delivered by the worker through the real aiogram Bot to
the fake Bot API enforcing the flood limits strictly (a message arriving sooner after the one before than the
limit allows is answered 429). Reports, from the same run, the 429s and the achieved rate as a ratio of the
allowed one, both counted where the limit is enforced: at the fake, from arrival times.

    python -m bench.pacing                          # 60 questions to one chat at Telegram's 1 message/s
    python -m bench.pacing --messages 200 --per-chat 20
    python -m bench.pacing --scenario chats         # 40 chats, two questions each, at the bot's 25/s

Scenario `chat`: every question goes to one private chat, so the per-chat limit is what binds. Scenario `chats`:
two questions for each of many chats (the second must wait its chat's interval), so the per-bot limit binds.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.telegram_api import FakeTelegram, FloodLimits
from core.store.tables import OutboxRow
from core.types import Address, ConversationClosed

OUT = OutboxRow.__table__
TOKEN = "123456:PACING-bench"
TELEGRAM_PER_BOT = 30  # what Telegram allows; the bot is configured below it, as in production


@dataclass
class Result:
    scenario: str
    messages: int
    rejected_429: int
    allowed_per_second: float
    achieved_per_second: float
    seconds: float

    @property
    def ratio(self) -> float:
        return self.achieved_per_second / self.allowed_per_second

    def line(self) -> str:
        return (
            f"{self.scenario:<6} {self.messages:>5} messages  429s {self.rejected_429:>3}  "
            f"achieved {self.achieved_per_second:7.3f}/s  allowed {self.allowed_per_second:7.3f}/s  "
            f"ratio {self.ratio:6.1%}  ({self.seconds:.1f} s)"
        )


def config(database: Path, fake: FakeTelegram, per_chat: float, per_bot: float) -> dict:
    telegram = {
        "token": TOKEN,
        "secret_token": "bench",
        "api_base": fake.base,
        "per_chat_per_second": per_chat,
        "per_bot_per_second": per_bot,
    }
    return {
        "database_url": f"sqlite:///{database}",
        "worker": {"poll_interval": "20ms"},
        "profiles": {"bench": {"brand": "Bench", "policy": {"throttle": "0s"}, "channels": {"telegram": telegram}}},
    }


async def queued(runtime: Runtime) -> int:
    async with runtime.store.read() as conn:
        q = select(func.count()).where(OUT.c.status.in_(["pending", "sending"]))
        return int((await conn.execute(q)).scalar_one())


async def run(scenario: str, messages: int, per_chat: float, per_bot: float) -> Result:
    limits = FloodLimits(per_chat=(1, 1.0 / per_chat), per_bot=(TELEGRAM_PER_BOT, 1.0))
    fake = await FakeTelegram(limits=limits).start()
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Runtime(parse_config(config(Path(tmp) / "pacing.db", fake, per_chat, per_bot), env={}))
        await runtime.store.migrate()
        chats = 1 if scenario == "chat" else max(1, messages // 2)
        for i in range(messages):  # closed cases in private chats: one question each, queued at once
            chat = str(700_000 + i % chats)
            await runtime.service.handle(ConversationClosed(Address("telegram", "bench", chat, chat), case_id=f"{i}"))
        started = time.monotonic()
        while await queued(runtime):
            if await runtime.worker.run_once() == 0:
                await asyncio.sleep(0.01)
        seconds = time.monotonic() - started
        await runtime.stop()
    await fake.close()
    sent = sorted(c.at for c in fake.of("sendMessage") if c.result is not None)
    achieved = (len(sent) - 1) / (sent[-1] - sent[0]) if len(sent) > 1 else 0.0
    allowed = per_chat if scenario == "chat" else per_bot
    return Result(scenario, len(sent), fake.rejected_429, allowed, achieved, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=["chat", "chats", "both"], default="chat")
    parser.add_argument("--messages", type=int, default=None, help="default: 60 (chat), 80 (chats)")
    parser.add_argument("--per-chat", type=float, default=1.0, help="the per-chat limit, messages a second")
    parser.add_argument("--per-bot", type=float, default=25.0, help="the bot's configured rate (Telegram: 30)")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    scenarios = ["chat", "chats"] if args.scenario == "both" else [args.scenario]
    for scenario in scenarios:
        n = args.messages or (60 if scenario == "chat" else 80)
        for _ in range(args.runs):
            print(asyncio.run(run(scenario, n, args.per_chat, args.per_bot)).line(), flush=True)


if __name__ == "__main__":
    main()
