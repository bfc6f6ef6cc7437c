"""What the slow-client guard (bots/server_limits.py) costs per request: the same aiohttp handlers served bare
(aiohttp's TCPSite) and guarded (bots.server_limits.listen), each in its own process, driven over loopback by
keep-alive clients. Reported as ratios of guarded to bare.

    python -m bench.server_limits [--requests 5000] [--clients 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from aiohttp import ClientSession, TCPConnector, web

from bots.server_limits import Limits, listen

BODY = b'{"type": "conversation.closed", "data": {"conversation_id": "c1", "contact_id": "u1"}}' * 12  # ~1 KB
LIMITS = Limits(header_timeout=10, body_timeout=30, idle_timeout=75, max_connections=1000)


async def ping(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def echo(request: web.Request) -> web.Response:
    return web.Response(body=str(len(await request.read())).encode())


async def serve(mode: str) -> None:
    app = web.Application()
    app.router.add_get("/ping", ping)
    app.router.add_post("/echo", echo)
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=LIMITS.idle_timeout)
    await runner.setup()
    if mode == "guarded":
        server = await listen(runner, "127.0.0.1", 0, LIMITS)
        port = server.sockets[0].getsockname()[1]
    else:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site.port
    print(port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the driver closes stdin
    await runner.cleanup()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(port: int, requests: int, clients: int) -> float:
    """Wall seconds for `requests` requests, alternating GET /ping and POST /echo."""
    async with ClientSession(connector=TCPConnector(limit=clients)) as http:
        left = iter(range(requests))

        async def client() -> None:
            for n in left:
                if n % 2:
                    async with http.post(f"http://127.0.0.1:{port}/echo", data=BODY) as resp:
                        await resp.read()
                else:
                    async with http.get(f"http://127.0.0.1:{port}/ping") as resp:
                        await resp.read()

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return time.perf_counter() - start


async def measure(mode: str, requests: int, clients: int) -> tuple[float, float]:
    """(requests per second, server CPU ms per request)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.server_limits", "--serve", mode,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None
    port = int((await proc.stdout.readline()).decode())
    try:
        await drive(port, 500, clients)  # warm-up
        cpu = cpu_seconds(proc.pid)
        wall = await drive(port, requests, clients)
        cpu = cpu_seconds(proc.pid) - cpu
    finally:
        proc.stdin.close()
        await proc.wait()
    return requests / wall, cpu / requests * 1000


async def main(requests: int, clients: int, rounds: int) -> None:
    print(f"{requests} requests per run (half GET, half 1 KB POST), {clients} keep-alive clients")
    print("| run | bare req/s | guarded req/s | ratio | bare cpu ms | guarded cpu ms | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n in range(rounds):
        bare = await measure("bare", requests, clients)
        guarded = await measure("guarded", requests, clients)
        print(
            f"| {n + 1} | {bare[0]:.0f} | {guarded[0]:.0f} | {guarded[0] / bare[0]:.2f} "
            f"| {bare[1]:.3f} | {guarded[1]:.3f} | {guarded[1] / bare[1]:.2f} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", choices=["bare", "guarded"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
    else:
        asyncio.run(main(args.requests, args.clients, args.rounds))
