"""`npsbot run`: the web server, the delivery worker, or both, until asked to stop."""

from __future__ import annotations

import asyncio
import gc
import logging

from aiohttp import web

from bots.app import RUNTIME, create_app, healthz
from bots.audit_trail import record_config_loaded
from bots.config import Config
from bots.database_check import DatabaseUnusable, check_connection, migrating
from bots.metrics import metrics_route
from bots.runtime import Runtime
from bots.security_headers import install as install_security_headers
from bots.server_limits import Limits, listen

log = logging.getLogger(__name__)


def settle_heap() -> None:
    """Move everything built at start-up (SDK models, compiled statements) out of the cyclic GC's sight, so
    full collections stay short: without it, p99 latency showed 150 ms pauses under load."""
    gc.collect()
    gc.freeze()


def server_limits(config: Config) -> Limits:
    s = config.server
    return Limits(
        header_timeout=s.header_timeout.total_seconds(),
        body_timeout=s.body_timeout.total_seconds(),
        idle_timeout=s.idle_timeout.total_seconds(),
        max_connections=s.max_connections,
    )


def worker_app(runtime: Runtime) -> web.Application:
    """What a worker-only process serves: its own counters and a health check, no inbound routes."""
    app = web.Application()
    app[RUNTIME] = runtime
    app.router.add_get("/healthz", healthz)
    app.router.add_routes([metrics_route(runtime.metrics, runtime.store)])
    install_security_headers(app, runtime.config.server.public_url)
    return app


async def serve(config: Config, *, role: str = "all", stop: asyncio.Event, migrate: bool = True) -> None:
    """`web` takes requests (and starts the channels' inbound side: polling, setWebhook); `worker` only delivers,
    so several of them never poll Telegram at once; `all` does both."""
    runtime = Runtime(config)
    try:
        await check_connection(runtime.store, config.database_url)
        if migrate:
            await migrating(runtime.store.migrate_once(), config.database_url)
    except DatabaseUnusable:
        await runtime.stop()  # closes the platform clients built with the runtime
        raise
    await record_config_loaded(runtime, role)  # the audit log's record of what this process serves
    if runtime.store.is_sqlite and role == "worker":
        log.warning("SQLite supports one worker: run a single 'all' or 'worker' process against this file")
    limits = server_limits(config)
    app = worker_app(runtime) if role == "worker" else create_app(runtime)  # its startup starts the channels
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=limits.idle_timeout)
    port = config.worker.metrics_port if role == "worker" else config.server.port
    await runner.setup()
    listener = None
    if port is not None:
        listener = await listen(runner, config.server.host, port, limits)
        log.info("%s listening on http://%s:%s", role, config.server.host, port)
    settle_heap()
    worker_task = asyncio.create_task(runtime.worker.run()) if role in ("all", "worker") else None
    await stop.wait()
    log.info("stopping")
    runtime.worker.stop()
    if worker_task is not None:
        await worker_task
    if listener is not None:
        listener.close()  # no new connections; the runner's cleanup closes the open ones
    await runner.cleanup()  # the full app stops the runtime in its cleanup
    if role == "worker":
        await runtime.stop()
