"""Delivery bench: the worker's throughput to a webhook target that answers at once, next to a bare aiohttp client
loop posting the same signed payloads to the same target in the same run.

    python -m bench.delivery_bench                        # every run below, on PostgreSQL
    python -m bench.delivery_bench --runs bare,flat --messages 20000 --delivered 2000000
    python -m bench.delivery_bench --runs sustained --seconds 300
    python -m bench.delivery_bench --runs bare --profile /tmp/worker.txt   # py-spy on the worker's timed drain

Runs: `bare` (the worker, one process, against the client loop), `flat` (the same with `--delivered` delivered rows
left in the outbox, generated set-based and not analysed: the statistics are stale), `workers` (1, 2 and 4 worker
processes on one database), `sustained` (a `--role web` process takes signed conversation-closed events, each
queueing a question, as fast as 16 clients send them, while one `--role worker` process delivers; the pending
depth is sampled every few seconds). The target, the web process and each worker are separate OS processes
(bench/delivery_processes.py), started with `npsbot run` as in production; a drain is timed from the commit of its
messages to the last one leaving the queue. Beside messages per second, each drain reports the CPU time per message
of the process(es) delivering it (the workers' user and system time from /proc, the client loop's own process
time): the steadier figure on a shared machine, where the workers, the target and PostgreSQL share the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import text

from adapters.webhook.http import post_signed
from bench.databases import empty_store, generated
from bench.delivery_processes import SECRET, npsbot, plain_url, target, workers
from bots.sandbox.signing import standard_webhook
from bots.worker import WorkerSettings
from core.channel import encode
from core.store import Store
from core.types import Say

TEXT = "Thanks for your answer."
KIND, PAYLOAD = encode(Say(TEXT, "thanks"))
PAYLOAD_SQL = "'" + json.dumps(PAYLOAD).replace("'", "''") + "'"
CONCURRENCY = 8  # the worker's default sends in flight; the client loop gets as many
WAITING = text("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')")
# What a drain polls every 50 ms: whether anything still waits, not how much. Counting read every waiting row (3 ms
# of PostgreSQL's CPU a poll with 20,000 waiting, an eighth of a core) on the cores the worker uses.
ANY_WAITING = text("SELECT EXISTS (SELECT 1 FROM outbox WHERE status IN ('pending', 'sending'))")


# ---- the messages -------------------------------------------------------------------------------------------------


async def insert_messages(store: Store, n: int, status: str, first: int, age: timedelta) -> None:
    """`n` webhook messages, two per conversation, generated in one INSERT … SELECT."""
    now = datetime.now(UTC)
    g = generated(store.engine.dialect.name, n, now - age)
    conv = f"'conv-' || ((i + {first}) / 2)"
    target = f'\'{{"conversation_id": "\' || {conv} || \'", "user_id": "u-\' || ((i + {first}) / 2) || \'"}}\''
    at = g.at("0")  # the sent ones a day old, the pending ones due now
    sent_at = at if status == "sent" else "NULL"
    sql = (
        f"{g.prefix}INSERT INTO outbox (profile, channel, kind, survey_id, ordering_key, target, payload, status, "
        f"attempts, next_attempt_at, lease_until, leased_by, last_error, ref, created_at, sent_at) "
        f"SELECT 'bench', 'webhook', '{KIND}', NULL, 'webhook:bench:' || {conv}, {g.js(target)}, "
        f"{g.js(PAYLOAD_SQL)}, '{status}', {1 if status == 'sent' else 0}, {at}, NULL, "
        f"NULL, NULL, NULL, {at}, {sent_at} FROM {g.source}"
    )
    async with store.transaction() as conn:
        await conn.exec_driver_sql(sql)


async def any_waiting(store: Store) -> bool:
    async with store.read() as conn:
        return bool((await conn.execute(ANY_WAITING)).scalar_one())


async def waiting(store: Store) -> int:
    async with store.read() as conn:
        return int((await conn.execute(WAITING)).scalar_one())


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def local_ports(pid: int) -> set[int]:
    """The local TCP ports of a process's sockets (its fds' socket inodes looked up in /proc/net/tcp*)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[9] in inodes:
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports


BACKENDS = text("SELECT pid, client_port FROM pg_stat_activity WHERE datname = current_database()")


async def backends_cpu(store: Store, pids: list[int]) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend serving one of `pids` (empty on SQLite)."""
    if store.is_sqlite:
        return {}
    ports = set().union(*(local_ports(pid) for pid in pids))
    async with store.read() as conn:
        rows = (await conn.execute(BACKENDS)).all()
    out = {}
    for backend, port in rows:
        if port in ports:
            try:
                out[backend] = cpu_seconds(backend)
            except OSError:
                pass
    return out


@dataclass
class Drain:
    per_s: float
    cpu_ms: float  # CPU milliseconds per message, summed over the delivering processes
    db_cpu_ms: float | None = None  # the same for the PostgreSQL backends serving them


async def drain(store: Store, n: int, first: int, pids: list[int], profile: str | None = None) -> Drain:
    """Queue `n` messages and time them out of the queue; `profile` records the first pid with py-spy meanwhile.
    The CPU of the PostgreSQL backends of `pids` is counted too (one opened meanwhile from zero)."""
    spy = None
    if profile:
        cmd = ["py-spy", "record", "--format", "raw", "--rate", "250", "--gil", "-o", profile, "-p", str(pids[0])]
        spy = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / cmd[0]), *cmd[1:], stdout=asyncio.subprocess.DEVNULL
        )
        await asyncio.sleep(1.0)  # attached before the messages are there
    cpu, db_before = sum(cpu_seconds(pid) for pid in pids), await backends_cpu(store, pids)
    await insert_messages(store, n, "pending", first, timedelta(0))
    start = time.perf_counter()
    while await any_waiting(store):
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - start
    used = sum(cpu_seconds(pid) for pid in pids) - cpu
    db_after = await backends_cpu(store, pids)
    db_used = sum(t - db_before.get(backend, 0.0) for backend, t in db_after.items())
    if spy is not None:
        spy.send_signal(2)  # SIGINT: py-spy writes what it sampled
        await asyncio.wait_for(spy.wait(), 60)
    return Drain(n / elapsed, 1000 * used / n, None if store.is_sqlite else 1000 * db_used / n)


def signed_bodies(n: int, first: int) -> list[tuple[bytes, str]]:
    """What the webhook channel posts for each message (core's Delivery fields and the text), with its id."""
    out = []
    for i in range(first, first + n):
        message = {"type": "message", "profile": "bench", "survey_id": None, "conversation_id": f"conv-{i // 2}",
                   "contact_id": f"u-{i // 2}", "thread": None, "locale": None, "text": TEXT}  # fmt: skip
        out.append((json.dumps(message, ensure_ascii=False).encode(), f"msg_{i}"))
    return out


async def bare_loop(url: str, n: int, first: int) -> Drain:
    """The baseline: the same signed payloads posted by a plain aiohttp client, CONCURRENCY in flight."""
    bodies = iter(signed_bodies(n, first))
    async with aiohttp.ClientSession() as http:

        async def poster() -> None:
            for body, msg_id in bodies:
                await post_signed(http, url, body, SECRET, msg_id)

        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(poster() for _ in range(CONCURRENCY)))
        elapsed, used = time.perf_counter() - start, time.process_time() - cpu
        return Drain(n / elapsed, 1000 * used / n)


# ---- the runs -------------------------------------------------------------------------------------------------


@dataclass
class Result:
    figures: dict[str, float] = field(default_factory=dict)
    depth: list[int] = field(default_factory=list)


def figures(name: str, d: Drain) -> dict[str, float]:
    out = {name: d.per_s, f"{name}_cpu_ms": d.cpu_ms}
    return out if d.db_cpu_ms is None else out | {f"{name}_db_cpu_ms": d.db_cpu_ms}


async def run_bare(
    store: Store, url: str, n: int, delivered: int, batch: int, profile: str | None = None
) -> dict[str, float]:
    """The worker (one process) and the client loop on the same target; then, with `delivered` delivered rows
    left in the outbox, the worker again."""
    out: dict[str, float] = {}
    async with npsbot("worker", plain_url(store), url, batch) as (_, pid):
        await drain(store, n // 10, 0, [pid])  # warm-up: connections, statement caches
        out |= figures("worker", await drain(store, n, n, [pid], profile))
    out |= figures("bare", await bare_loop(url, n, 2 * n))
    if delivered:
        await insert_messages(store, delivered, "sent", 10 * n, timedelta(days=1))
        async with npsbot("worker", plain_url(store), url, batch) as (_, pid):
            await drain(store, n // 10, 3 * n, [pid])
            out |= figures("worker_with_delivered", await drain(store, n, 4 * n, [pid]))
    return out


async def run_workers(store: Store, url: str, n: int, counts: list[int], batch: int) -> dict[str, float]:
    out: dict[str, float] = {}
    first = 20 * n
    for k in counts:
        async with workers(k, plain_url(store), url, batch) as pids:
            await drain(store, n // 10, first, pids)
            out |= figures(f"workers_{k}", await drain(store, n, first + n, pids))
        first += 2 * n
    return out


async def run_sustained(store: Store, url: str, seconds: float, sample_every: float, batch: int) -> Result:
    """Inbound closes as fast as 16 clients get them accepted by a web process, one worker delivering."""
    result = Result()
    async with (
        npsbot("web", plain_url(store), url, batch) as (web_port, _),
        npsbot("worker", plain_url(store), url, batch),
    ):
        events = f"http://127.0.0.1:{web_port}/webhook/bench/events"
        counter = iter(range(10**9))
        stop = time.perf_counter() + seconds
        accepted = [0]

        async def client(http: aiohttp.ClientSession) -> None:
            while time.perf_counter() < stop:
                i = next(counter)
                data = {"conversation_id": f"closed-{i}", "contact_id": f"c-{i}"}
                body, headers = standard_webhook(SECRET, {"type": "conversation.closed", "data": data})
                async with http.post(events, data=body, headers=headers) as r:
                    await r.read()
                    accepted[0] += r.status == 200

        async def sampler() -> None:
            while time.perf_counter() < stop:
                await asyncio.sleep(sample_every)
                result.depth.append(await waiting(store))

        start = time.perf_counter()
        async with aiohttp.ClientSession() as http:
            await asyncio.gather(sampler(), *(client(http) for _ in range(16)))
        elapsed = time.perf_counter() - start
        result.depth.append(await waiting(store))
    result.figures = {"inbound_per_s": accepted[0] / elapsed, "accepted": accepted[0]}
    result.figures |= {"max_depth": max(result.depth), "final_depth": result.depth[-1]}
    return result


async def run(
    backend: str, runs: list[str], n: int, delivered: int, seconds: float, batch: int, profile: str | None = None
) -> Result:
    result = Result()
    async with empty_store(backend, "delivery") as store, target() as url:
        await store.migrate()
        if "bare" in runs or "flat" in runs:
            result.figures |= await run_bare(store, url, n, delivered if "flat" in runs else 0, batch, profile)
        if "workers" in runs:
            result.figures |= await run_workers(store, url, n, [1, 2, 4] if backend == "postgres" else [1], batch)
        if "sustained" in runs:
            sustained = await run_sustained(store, url, seconds, max(1.0, seconds / 60), batch)
            result.figures |= sustained.figures
            result.depth = sustained.depth
    return result


def report(backend: str, result: Result) -> None:
    f = result.figures
    print(f"{backend}: " + ", ".join(f"{k} {v:.0f}" for k, v in f.items() if not k.endswith("_cpu_ms")))
    cpu = {k[:-7]: v for k, v in f.items() if k.endswith("_cpu_ms") and not k.endswith("_db_cpu_ms")}
    db = {k[:-10]: v for k, v in f.items() if k.endswith("_db_cpu_ms")}
    if cpu:
        print("  CPU ms per message: " + ", ".join(f"{k} {v:.3f}" for k, v in cpu.items()))
    if db:
        print("  PostgreSQL backends' CPU ms per message: " + ", ".join(f"{k} {v:.3f}" for k, v in db.items()))
    if "worker" in f and "bare" in f:
        print(f"  worker / bare loop: {f['worker'] / f['bare']:.2f}")
        print(f"  CPU per message, bare loop / worker: {cpu['bare'] / cpu['worker']:.2f}")
    if "worker_with_delivered" in f and "worker" in f:
        print(f"  with delivered rows / without: {f['worker_with_delivered'] / f['worker']:.2f}")
    if "workers_1" in f:
        print(
            "  per worker count: "
            + ", ".join(
                f"{k[8:]}: {v / f['workers_1']:.2f}x"
                for k, v in f.items()
                if k.startswith("workers_") and k[8:].isdigit()
            )
        )
    if result.depth:
        print(f"  pending depth samples: {result.depth}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backends", default="postgres", help="comma-separated: sqlite,postgres")
    p.add_argument("--runs", default="bare,flat,workers,sustained")
    p.add_argument("--messages", type=int, default=20_000, help="per drain: enough for the queue's own costs to show")
    p.add_argument("--delivered", type=int, default=2_000_000)
    p.add_argument("--seconds", type=float, default=300.0)
    p.add_argument("--batch", type=int, default=WorkerSettings().batch, help="the worker's batch (its default)")
    p.add_argument("--profile", help="write a py-spy sample (raw, folded stacks) of the worker's timed drain here")
    args = p.parse_args()
    for backend in args.backends.split(","):
        runs = args.runs.split(",")
        result = run(backend, runs, args.messages, args.delivered, args.seconds, args.batch, args.profile)
        report(backend, asyncio.run(result))


if __name__ == "__main__":
    main()
