"""Load bench: replies per second and latency from "reply received" to "comment question queued", over HTTP on loopback,
next to a bare aiohttp + one-INSERT baseline on the same backend in the same run.

    python -m bench.load                      # SQLite and PostgreSQL, all channels
    python -m bench.load --backends sqlite --requests 2000 --concurrency 16

The server runs in its own process (as in production); this process only drives it. A Telegram or webhook reply
is answered after the comment question is committed to the outbox, so the request latency is the
reply→comment-question-queued time. WhatsApp, Messenger and Instagram are answered once the request is journaled and
the work runs after; Slack is answered after its work in the common case, but after journaling the request when the
work fails or runs long. So for these the server records when each reply's work has committed, and latency and rate
are taken from those moments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from bench.databases import PG_ADMIN, admin
from bench.server import (
    CPU_PATH,
    DONE_PATH,
    INSTAGRAM_ACCOUNT,
    MEMORY_TOKEN,
    MESSENGER_PAGE,
    META_APP_SECRET,
    SLACK_SIGNING_SECRET,
    TELEGRAM_SECRET,
    WEBHOOK_SECRET,
    WHATSAPP_APP_SECRET,
    WHATSAPP_NUMBER,
)
from bots.sandbox.signing import TELEGRAM_SECRET_HEADER, meta_signature, slack_headers, standard_webhook

Request = tuple[str, bytes, dict[str, str]]


def baseline_request(i: int) -> Request:
    return "/baseline", json.dumps(telegram_update(i)).encode(), {"Content-Type": "application/json"}


def memory_request(i: int) -> Request:
    body = {"type": "message", "conversation_id": f"conv-{i}", "user_id": str(100000 + i), "text": "9", "id": f"b{i}"}
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {MEMORY_TOKEN}"}
    return "/memory/bench", json.dumps(body).encode(), headers


def telegram_update(i: int) -> dict:
    user = 100000 + i
    person = {"id": user, "is_bot": False, "first_name": "Bench", "language_code": "en"}
    return {
        "update_id": 500000 + i,
        "message": {
            "message_id": 10 + i,
            "date": 1767225600,
            "chat": {"id": user, "type": "private", "first_name": "Bench"},
            "from": person,
            "text": "9",
        },
    }


def telegram_request(i: int) -> Request:
    headers = {"Content-Type": "application/json", TELEGRAM_SECRET_HEADER: TELEGRAM_SECRET}
    return "/telegram/bench", json.dumps(telegram_update(i)).encode(), headers


def webhook_request(i: int) -> Request:
    body = json.dumps(
        {
            "type": "message.received",
            "data": {"conversation_id": f"conv-{i}", "contact_id": str(100000 + i), "text": "9"},
        }
    ).encode()
    body, headers = standard_webhook(WEBHOOK_SECRET, body)
    return "/webhook/bench/events", body, headers


def slack_request(i: int) -> Request:
    """A customer's DM reply, signed as Slack signs (v0, HMAC-SHA256 over "v0:timestamp:body")."""
    event = {"type": "message", "channel": f"D{i}", "user": str(100000 + i), "text": "9", "channel_type": "im",
             "ts": f"1767225600.{i:06d}", "event_ts": f"1767225600.{i:06d}"}  # fmt: skip
    body = json.dumps(
        {
            "token": "bench",
            "team_id": "T0001",
            "api_app_id": "A0001",
            "event": event,
            "type": "event_callback",
            "event_id": slack_event_id(i),
            "event_time": 1767225600,
        }
    ).encode()
    headers = {"Content-Type": "application/json", **slack_headers(SLACK_SIGNING_SECRET, body)}
    return "/slack/bench/events", body, headers


def slack_event_id(i: int) -> str:
    return f"Ev{i:010d}"


def whatsapp_request(i: int) -> Request:
    """A customer's typed score as Meta posts it (one entry, one change, one message), signed X-Hub-Signature-256."""
    user = str(100000 + i)
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": WHATSAPP_NUMBER},
        "contacts": [{"profile": {"name": "Bench"}, "wa_id": user}],
        "messages": [{"from": user, "id": whatsapp_message_id(i), "timestamp": "1767225600", "type": "text",
                      "text": {"body": "9"}}],
    }  # fmt: skip
    entry = {"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}
    body = json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(WHATSAPP_APP_SECRET, body)}
    return "/whatsapp/bench/webhook", body, headers


def whatsapp_message_id(i: int) -> str:
    return f"wamid.BENCH{i:010d}"


def messaging_request(channel: str, obj: str, account: str) -> Callable[[int], Request]:
    """A customer's typed score as Messenger (`page`) or Instagram (`instagram`) posts it: one entry, one
    `messaging` event, signed X-Hub-Signature-256."""

    def build(i: int) -> Request:
        event = {"sender": {"id": str(100000 + i)}, "recipient": {"id": account}, "timestamp": 1767225600000,
                 "message": {"mid": messaging_mid(i), "text": "9"}}  # fmt: skip
        body = json.dumps({"object": obj, "entry": [{"id": account, "time": 1767225600000, "messaging": [event]}]})
        raw = body.encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(META_APP_SECRET, raw)}
        return f"/{channel}/bench/webhook", raw, headers

    return build


def messaging_mid(i: int) -> str:
    return f"m_BENCH{i:010d}"


# Answered once journaled: the work is timed from the server's record of each request (by this id) instead.
JOURNALED: dict[str, Callable[[int], str]] = {"slack": slack_event_id, "whatsapp": whatsapp_message_id,
                                              "messenger": messaging_mid, "instagram": messaging_mid}  # fmt: skip


SCENARIOS: dict[str, tuple[str, Callable[[int], Request]]] = {
    "baseline": ("baseline", baseline_request),
    "memory": ("app", memory_request),
    "telegram": ("app", telegram_request),
    "webhook": ("app", webhook_request),
    "slack": ("app", slack_request),
    "whatsapp": ("app", whatsapp_request),
    "messenger": ("app", messaging_request("messenger", "page", MESSENGER_PAGE)),
    "instagram": ("app", messaging_request("instagram", "instagram", INSTAGRAM_ACCOUNT)),
}


@dataclass
class Result:
    backend: str
    scenario: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    server_cpu: float = 0.0  # CPU seconds the server process spent during the measured requests
    server_sys: float = 0.0  # of which in the kernel (system calls: sockets, epoll)

    @property
    def rate(self) -> float:
        return (self.requests - self.errors) / self.seconds

    @property
    def cpu_ms(self) -> float:
        return self.server_cpu / self.requests * 1000

    @property
    def sys_ms(self) -> float:
        return self.server_sys / self.requests * 1000

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def drive(
    port: int,
    build: Callable[[int], Request],
    n: int,
    concurrency: int,
    offset: int,
    sent: dict[int, float] | None = None,
) -> Result:
    latencies: list[float] = []
    errors = 0
    queue = iter(range(offset, offset + n))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one_worker() -> None:
            nonlocal errors
            for i in queue:
                path, body, headers = build(i)
                if sent is not None:
                    sent[i] = time.time()
                t0 = time.perf_counter()
                async with session.post(f"http://127.0.0.1:{port}{path}", data=body, headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - t0)

        start = time.perf_counter()
        await asyncio.gather(*(one_worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return Result("", "", n, errors, elapsed, latencies)


async def finished(
    port: int, n: int, sent: dict[int, float], started: float, ident: Callable[[int], str]
) -> tuple[list[float], float]:
    """A journaling channel's 200 may come before a reply's work is done; it is done when its replay (Slack: its
    first attempt, or the replay) has queued the comment question. Waits for all `n`, then returns each reply's
    latency (sent → comment question queued) and the seconds the run took."""
    index = {ident(i): i for i in sent}
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(f"http://127.0.0.1:{port}{DONE_PATH}") as resp:
                done = [d for d in await resp.json() if d["event_id"] in index]
            if len(done) >= n:
                break
            await asyncio.sleep(0.05)
    latencies = [d["at"] - sent[index[d["event_id"]]] for d in done]
    return latencies, max(d["at"] for d in done) - started


async def server_cpu(port: int) -> tuple[float, float]:
    """The server's CPU seconds so far, and how many of them were spent in the kernel."""
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{CPU_PATH}") as resp:
        times = await resp.json()
        return float(times["cpu"]), float(times["system"])


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def run_scenario(backend: str, url: str, scenario: str, n: int, concurrency: int, warmup: int) -> Result:
    mode, build = SCENARIOS[scenario]
    port = free_port()
    args = ["--mode", mode, "--database", url, "--port", str(port), "--seed", str(n + warmup)]
    if mode == "app":
        args += ["--channel", scenario]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.server", *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdin is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 600)
    if line.strip() != b"ready":
        raise RuntimeError(f"{scenario} server did not start")
    try:
        await drive(port, build, warmup, concurrency, 0)
        if scenario in JOURNALED:
            await finished(port, warmup, {i: 0.0 for i in range(warmup)}, 0.0, JOURNALED[scenario])
        cpu_before = await server_cpu(port)
        sent: dict[int, float] = {}
        started = time.time()
        result = await drive(port, build, n, concurrency, warmup, sent)
        if scenario in JOURNALED:  # the answers came before the work: time the work instead
            result.latencies, result.seconds = await finished(port, n, sent, started, JOURNALED[scenario])
        cpu_after = await server_cpu(port)
        result.server_cpu, result.server_sys = cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]
    finally:
        proc.stdin.close()
        await proc.wait()
    result.backend, result.scenario = backend, scenario
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    scenarios = ["telegram", "webhook", "slack", "whatsapp", "messenger", "instagram"]
    parser.add_argument("--scenarios", nargs="+", default=scenarios, choices=list(SCENARIOS)[1:])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    results: list[Result] = []
    for backend in args.backends:
        for scenario in ["baseline", *args.scenarios]:
            if backend == "sqlite":
                url = f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='npsbot-bench-')}/bench.db"
                results.append(await run_scenario(backend, url, scenario, args.requests, args.concurrency, args.warmup))
                continue
            name = f"npsbot_bench_{uuid.uuid4().hex[:8]}"
            await admin(f'CREATE DATABASE "{name}"')
            try:
                url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
                results.append(await run_scenario(backend, url, scenario, args.requests, args.concurrency, args.warmup))
            finally:
                await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"\n{args.requests} requests per scenario, concurrency {args.concurrency}, after {args.warmup} warm-up")
    print(
        f"{'backend':<9} {'scenario':<9} {'req/s':>8} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'cpu ms':>7} "
        f"{'sys ms':>7} {'errors':>6}"
    )
    for r in results:
        base = next(b for b in results if b.backend == r.backend and b.scenario == "baseline")
        print(
            f"{r.backend:<9} {r.scenario:<9} {r.rate:8.0f} {r.rate / base.rate:6.2f} "
            f"{r.pct(0.5):7.1f} {r.pct(0.99):7.1f} {r.cpu_ms:7.2f} {r.sys_ms:7.2f} {r.errors:6d}"
        )
    print("ratio = replies/s divided by the baseline's requests/s on the same backend in this run")
    print("cpu ms = the server process's CPU time per measured request (less sensitive to a busy machine)")
    print("sys ms = the part of it spent in the kernel (system calls)")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if any(r.errors for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
