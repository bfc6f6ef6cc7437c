"""The aiohttp application: every adapter mounts its routes here; errors become clear JSON, never a crash."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

from aiohttp import web

from bots.api import api_routes
from bots.api.programme_routes import programme_routes
from bots.api.routing import routing_routes
from bots.api.themes import theme_routes
from bots.audit_trail import token_use
from bots.dashboard import dashboard_routes
from bots.dashboard.themes import discover_route
from bots.metrics import metrics_route
from bots.runtime import Runtime
from bots.security_headers import install as install_security_headers
from bots.sessions import SESSIONS, WebSessions, session_middleware
from bots.throttle import THROTTLE, FailureThrottle
from core.service import UnknownProfile

log = logging.getLogger(__name__)
RUNTIME = web.AppKey("runtime", Runtime)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        return json_error(413, "request body too large")
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        return json_error(exc.status, exc.reason)
    except UnknownProfile as exc:
        return json_error(404, f"unknown profile {exc.args[0]!r}")
    except json.JSONDecodeError as exc:
        return json_error(400, f"malformed JSON: {exc.msg} at position {exc.pos}")
    except Exception:
        # The route's template, not the path: a path may hold a person's id (/api/v1/contacts/{channel}/{id}).
        log.exception("unhandled error on %s %s", request.method, request.match_info.route.resource.canonical)
        return json_error(500, "internal error")


async def healthz(request: web.Request) -> web.Response:
    """503 only when the database is unreachable. A channel that could not start yet (its platform refused or was
    unreachable; it is retried in the background) makes the status "degraded" but keeps the 200, so a load balancer
    keeps sending the other profiles' and channels' traffic to this instance."""
    runtime = request.app[RUNTIME]
    degraded = {"channels": channels} if (channels := runtime.degraded()) else {}
    try:
        await runtime.store.ping()
    except Exception as exc:  # report, don't raise: load balancers read the status code
        return web.json_response({"status": "unavailable", "database": str(exc)[:200], **degraded}, status=503)
    status = "degraded" if degraded else "ok"
    return web.json_response({"status": status, "database": runtime.store.dialect, **degraded})


def create_app(runtime: Runtime) -> web.Application:
    public_url = runtime.config.server.public_url
    sessions = WebSessions(runtime.config, runtime.store, lambda: runtime.service.clock())
    app = web.Application(
        client_max_size=runtime.config.server.max_body_bytes,
        middlewares=[errors, session_middleware(sessions, public_url), token_use(runtime)],
    )
    app[RUNTIME] = runtime
    app[SESSIONS] = sessions
    app[THROTTLE] = FailureThrottle()
    install_security_headers(app, public_url)
    app.router.add_get("/healthz", healthz)
    app.router.add_routes([metrics_route(runtime.metrics, runtime.store)])
    app.router.add_routes(api_routes(runtime))
    app.router.add_routes(theme_routes(runtime))
    app.router.add_routes(routing_routes(runtime))
    app.router.add_routes(programme_routes(runtime))
    app.router.add_routes(dashboard_routes(runtime))
    app.router.add_routes([discover_route(runtime)])
    for channel in runtime.channels:
        channel.mount(app)

    async def on_startup(_app: web.Application) -> None:
        await runtime.start()

    async def on_cleanup(_app: web.Application) -> None:
        await runtime.stop()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


async def serve_on_loopback(runtime: Runtime, stack: AsyncExitStack) -> tuple[web.AppRunner, str]:
    """The app on 127.0.0.1 at a free port, stopped (channels and runtime too) when `stack` closes: what the demo
    drives its customers against. The runner and the app's base URL."""
    runner = web.AppRunner(create_app(runtime), access_log=None)
    await runner.setup()  # starts the channels; cleanup stops them and the runtime
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, "http://{}:{}".format(*runner.addresses[0][:2])
