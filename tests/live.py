"""Serve the real app, migrated and seeded: on 127.0.0.1 from a thread of its own, for clients that are not asyncio
(schemathesis, selenium), or to aiohttp's test client in the test's own loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime


@contextmanager
def live_app(cfg: dict, seed: Callable[[Runtime], Awaitable[None]] | None = None) -> Iterator[str]:
    loop = asyncio.new_event_loop()
    state: dict = {}
    ready = threading.Event()

    async def start() -> None:
        runtime = Runtime(parse_config(cfg, env={}))
        await runtime.store.migrate()
        if seed is not None:
            await seed(runtime)
        runner = web.AppRunner(create_app(runtime))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        state["runner"] = runner
        state["port"] = runner.addresses[0][1]

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        finally:
            ready.set()
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    assert ready.wait(60) and "port" in state, "the app did not start"
    try:
        yield f"http://127.0.0.1:{state['port']}"
    finally:
        asyncio.run_coroutine_threadsafe(state["runner"].cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)


@asynccontextmanager
async def served(cfg: dict, seed: Callable[[Runtime], Awaitable[None]]) -> AsyncIterator[TestClient]:
    """The app over `cfg`'s database, migrated and seeded, for aiohttp's test client."""
    runtime = Runtime(parse_config(cfg, env={}))
    await runtime.store.migrate()
    await seed(runtime)
    async with TestClient(TestServer(create_app(runtime))) as client:
        yield client
