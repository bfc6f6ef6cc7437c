"""A server process for the load bench: the real app (seeded with open surveys) or the bare baseline
(aiohttp + one INSERT through the same engine), so both are measured the same way over loopback."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.slack_api import FakeSlack
from bots.serve import settle_heap
from core.inbound_journal import InboundJournal
from core.rollup_folding import RollupFolder
from core.store import Store
from core.types import Address, ConversationClosed

TELEGRAM_TOKEN = "123456:bench-token-0000000000"
TELEGRAM_SECRET = "bench-secret"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SLACK_SIGNING_SECRET = "bench-slack-signing-secret-0000"
MEMORY_TOKEN = "bench-memory-trial-token"
WHATSAPP_APP_SECRET = "bench-whatsapp-app-secret-000000"
WHATSAPP_NUMBER = "106540352242922"
META_APP_SECRET = "bench-meta-app-secret-0000000000"  # Messenger's and Instagram's
MESSENGER_PAGE = "106112865011426"
INSTAGRAM_ACCOUNT = "17841405822304914"
CPU_PATH = "/_bench/cpu"
DONE_PATH = "/_bench/done"

baseline_meta = MetaData()
baseline_table = Table(
    "bench_baseline", baseline_meta, Column("id", Integer, primary_key=True), Column("body", String(4000))
)


def bench_config(database_url: str, channels: list[str], slack_api: str = "http://127.0.0.1:9/api/") -> dict:
    chans: dict = {}
    if "memory" in channels:
        chans["memory"] = {"http": True, "token": MEMORY_TOKEN}
    if "telegram" in channels:
        chans["telegram"] = {"token": TELEGRAM_TOKEN, "secret_token": TELEGRAM_SECRET, "api_base": "http://127.0.0.1:9"}
    if "webhook" in channels:
        chans["webhook"] = {"secrets": [WEBHOOK_SECRET], "deliver_url": "http://127.0.0.1:9/deliver"}
    if "slack" in channels:
        chans["slack"] = {"bot_token": "xoxb-bench", "signing_secret": SLACK_SIGNING_SECRET, "api_base": slack_api}
    if "whatsapp" in channels:
        chans["whatsapp"] = {"app_secret": WHATSAPP_APP_SECRET, "verify_token": "bench-verify-token",
                             "access_token": "EAAG-bench-token-000", "phone_number_id": WHATSAPP_NUMBER,
                             "api_base": "http://127.0.0.1:9/v21.0"}  # fmt: skip
    meta = {"app_secret": META_APP_SECRET, "verify_token": "bench-verify-token", "access_token": "EAAG-bench-token-000",
            "api_base": "http://127.0.0.1:9/v21.0"}  # fmt: skip
    if "messenger" in channels:
        chans["messenger"] = {**meta, "page_id": MESSENGER_PAGE}
    if "instagram" in channels:
        chans["instagram"] = {**meta, "account_id": INSTAGRAM_ACCOUNT}
    return {
        "database_url": database_url,
        "worker": {"role": "web"},
        "profiles": {"bench": {"brand": "Bench", "policy": {"throttle": "0s"}, "channels": chans}},
    }


async def seed(runtime: Runtime, channel: str, count: int) -> None:
    """Open `count` surveys (asked state) so every bench request is a reply that queues a comment question."""
    for i in range(count):
        user = str(100000 + i)
        conv = {"telegram": user, "slack": f"D{i}", "whatsapp": user, "messenger": user, "instagram": user}.get(
            channel, f"conv-{i}"
        )
        event = ConversationClosed(Address(channel, "bench", conv, user), agent=f"agent-{i % 7}")
        await runtime.service.handle(event)


_profiler: cProfile.Profile | None = None


async def cpu_seconds(_request: web.Request) -> web.Response:
    """This process's CPU time, read by the driver before and after a run: CPU per request is not skewed by
    other load on the machine the way requests per second are. With NPSBOT_BENCH_PROFILE set, a cProfile runs
    between the two reads (the measured requests only, not the seeding nor the warm-up) and is written after."""
    global _profiler
    path = os.environ.get("NPSBOT_BENCH_PROFILE")
    if path and _profiler is None:
        _profiler = cProfile.Profile(time.process_time)  # CPU time: waiting on the database is not this process's cost
        _profiler.enable()
    elif path and _profiler is not None:
        _profiler.disable()
        _profiler.dump_stats(f"{path}.{os.getpid()}")
    times = os.times()
    return web.json_response({"cpu": time.process_time(), "user": times.user, "system": times.system})


async def run_app(args: argparse.Namespace) -> web.AppRunner:
    slack_api = await FakeSlack().start() if args.channel == "slack" else None  # answers auth.test at start
    base = slack_api.base if slack_api else "http://127.0.0.1:9/api/"
    runtime = Runtime(parse_config(bench_config(args.database, [args.channel], base), env={}))
    await runtime.store.migrate()
    await seed(runtime, args.channel, args.seed)
    async with runtime.store.transaction() as conn:  # table statistics, as autovacuum keeps them in production
        await conn.exec_driver_sql("ANALYZE")
    app = create_app(runtime)
    app.router.add_get(CPU_PATH, cpu_seconds)
    # The report rollups' change logs folded as a worker would, here so its CPU counts in the server's figure.
    folding = asyncio.Event()
    app.on_startup.append(lambda _app: _start(RollupFolder(runtime.store).run(folding)))
    app.on_cleanup.append(lambda _app: _set(folding))
    if args.channel in JOURNALED:
        channel = runtime.channel(args.channel, "bench")
        await channel.start()
        app.router.add_get(DONE_PATH, completions(channel.journal, JOURNALED[args.channel]))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    return runner


_background: set[asyncio.Task[None]] = set()


async def _start(chore: Awaitable[None]) -> None:
    task = asyncio.ensure_future(chore)
    _background.add(task)
    task.add_done_callback(_background.discard)


async def _set(event: asyncio.Event) -> None:
    event.set()
    await asyncio.gather(*_background, return_exceptions=True)


# Channels answered once a request is journaled, and how to tell one request from another: Slack's event id, the
# wamid of the one message in a WhatsApp webhook.
JOURNALED: dict[str, Callable[[dict], str]] = {
    "slack": lambda body: body["event_id"],
    "whatsapp": lambda body: body["entry"][0]["changes"][0]["value"]["messages"][0]["id"],
    "messenger": lambda body: body["entry"][0]["messaging"][0]["message"]["mid"],
    "instagram": lambda body: body["entry"][0]["messaging"][0]["message"]["mid"],
}


def completions(
    journal: InboundJournal, ident: Callable[[dict], str]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Slack and WhatsApp are answered once a request is journaled and the work runs after, so the reply's comment
    question is queued when its replay returns: that moment is recorded here (a reference and a clock read per
    request), and the driver reads the list once the run is over."""
    done: list[tuple[float, str]] = []
    replay = journal.replay

    async def timed(body: str, headers: dict[str, str]) -> str | None:
        outcome = await replay(body, headers)
        done.append((time.time(), body))
        return outcome

    journal.replay = timed

    async def report(_request: web.Request) -> web.Response:
        return web.json_response([{"at": at, "event_id": ident(json.loads(body))} for at, body in done])

    return report


async def run_baseline(args: argparse.Namespace) -> web.AppRunner:
    store = Store(args.database)
    async with store.transaction() as conn:
        await conn.run_sync(baseline_meta.create_all)

    async def handle(request: web.Request) -> web.Response:
        body = await request.text()
        async with store.transaction() as conn:
            await conn.execute(insert(baseline_table).values(body=body[:4000]))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/baseline", handle)
    app.router.add_get(CPU_PATH, cpu_seconds)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    return runner


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["app", "baseline"], required=True)
    parser.add_argument("--channel", default="memory")
    parser.add_argument("--database", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    runner = await (run_app(args) if args.mode == "app" else run_baseline(args))
    settle_heap()  # as `npsbot run` does after start-up, for the app and the baseline alike
    site = web.TCPSite(runner, "127.0.0.1", args.port)
    await site.start()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # stop when the driver closes stdin
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
