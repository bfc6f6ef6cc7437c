"""The delivery bench's processes: the webhook target (answers every POST at once, counts them) and `npsbot run`
processes, each a separate OS process started as in production and waited for until it serves.

    python -m bench.delivery_processes PORT   # the target alone, as bench.delivery_bench starts it
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web

from bench.server import WEBHOOK_SECRET
from core.store import Store

ROOT = Path(__file__).resolve().parent.parent
SECRET = WEBHOOK_SECRET


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the target: answers every POST at once, counts them ------------------------------------------------------------


def target_app() -> web.Application:
    received = [0]

    async def deliver(request: web.Request) -> web.Response:
        await request.read()
        received[0] += 1
        return web.json_response({"ok": True})

    async def count(_request: web.Request) -> web.Response:
        return web.json_response({"received": received[0]})

    app = web.Application()
    app.router.add_post("/deliver", deliver)
    app.router.add_get("/count", count)
    return app


async def serve_target(port: int) -> None:
    runner = web.AppRunner(target_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


@asynccontextmanager
async def process(*args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(sys.executable, *args, cwd=str(ROOT), env=env)
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def wait_up(url: str, proc: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            if proc.returncode is not None:
                raise RuntimeError(f"{url}: the process exited with {proc.returncode}")
            try:
                async with http.get(url) as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@asynccontextmanager
async def target() -> AsyncIterator[str]:
    port = free_port()
    async with process("-m", "bench.delivery_processes", str(port)) as proc:
        await wait_up(f"http://127.0.0.1:{port}/count", proc)
        yield f"http://127.0.0.1:{port}/deliver"


# ---- npsbot processes ---------------------------------------------------------------------------------------------


def config(database_url: str, deliver_url: str, port: int, batch: int) -> dict:
    return {
        "database_url": database_url,
        "server": {"port": port},
        "worker": {"batch": batch, "poll_interval": "20ms", "metrics_port": port},
        "profiles": {
            "bench": {
                "brand": "Bench",
                "policy": {"throttle": "0s"},
                "channels": {
                    "webhook": {"secrets": [SECRET], "deliver_url": deliver_url, "rate_per_second": 1_000_000}
                },
            }
        },
    }


@asynccontextmanager
async def npsbot(role: str, database_url: str, deliver_url: str, batch: int) -> AsyncIterator[tuple[int, int]]:
    """One `npsbot run --role <role>` process, up and serving /healthz; yields its port and pid."""
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(config(database_url, deliver_url, port, batch), f)
    try:
        async with process("-m", "bots.cli", "run", "--role", role, "--no-migrate", "-c", f.name) as proc:
            await wait_up(f"http://127.0.0.1:{port}/healthz", proc)
            yield port, proc.pid
    finally:
        os.unlink(f.name)


@asynccontextmanager
async def workers(k: int, database_url: str, url: str, batch: int) -> AsyncIterator[list[int]]:
    """`k` `npsbot run --role worker` processes on one database, up together; yields their pids."""
    if k == 0:
        yield []
        return
    async with (
        npsbot("worker", database_url, url, batch) as (_, pid),
        workers(k - 1, database_url, url, batch) as pids,
    ):
        yield [pid, *pids]


def plain_url(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


if __name__ == "__main__":
    asyncio.run(serve_target(int(sys.argv[1])))
