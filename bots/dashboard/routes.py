"""Dashboard routes. Auth is the API's bearer token, or the session cookie the sign-in form sets
(bots/sessions.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from bots.api.models import DashboardParams
from bots.api.routes import query_params
from bots.auth import SESSION_COOKIE, Principal, identify, require_profile
from bots.dashboard.data import dashboard_body
from bots.origin import forbidden, foreign_origin
from bots.sessions import SESSIONS, clear_session_cookie, cookie_is_secure, set_session_cookie
from bots.throttle import THROTTLE, client_address
from core.redaction import Redactions
from core.reports import Filters
from core.reports.responses import ResponseQuery, export_csv

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"dashboard.js": "application/javascript", "dashboard.css": "text/css"}


def _page(name: str, status: int = 200, headers: dict[str, str] | None = None, **values: str) -> web.Response:
    html = (STATIC / name).read_text(encoding="utf-8")
    for key, value in values.items():
        html = html.replace("{{" + key + "}}", value)
    return web.Response(text=html, content_type="text/html", status=status, headers=headers)


def dashboard_routes(runtime: Any) -> list[web.RouteDef]:
    config = runtime.config
    shown = Redactions({name: p.redaction for name, p in runtime.profiles.items()})  # comments as the team sees them

    public_url = config.server.public_url

    def principal(request: web.Request) -> Principal | None:
        return identify(request, config)

    def filters(request: web.Request, who: Principal) -> tuple[Filters, DashboardParams]:
        """The query read by the report filter parser the API and `npsbot report` share; a profile that does not
        exist is a 404, one the token may not see a 403."""
        params = query_params(request, DashboardParams)
        if params.profile is not None:
            require_profile(who, params.profile, config)
        scope = None if who.profiles is None else tuple(sorted(who.profiles))
        return params.filters(profiles=scope), params

    async def page(request: web.Request) -> web.Response:
        if principal(request) is None:
            resp = _page("login.html", 401, error="")
            if SESSION_COOKIE in request.cookies:  # expired or revoked: the browser may forget it
                clear_session_cookie(resp, secure=cookie_is_secure(request, public_url))
            return resp
        return _page("dashboard.html")

    async def login(request: web.Request) -> web.Response:
        """A form another site submits is refused (its Origin is foreign); an address with too many failed
        sign-ins waits, whatever token it now sends."""
        if foreign_origin(request, public_url):
            raise forbidden("cross-origin sign-in refused")
        throttle, address = request.app[THROTTLE], client_address(request)
        if wait := throttle.retry_after(address):
            minutes = -(-wait // 60)
            error = f"Too many failed sign-ins. Try again in {minutes} minute{'s' * (minutes != 1)}."
            return _page("login.html", 429, {"Retry-After": str(wait)}, error=error)
        form = await request.post()
        token = str(form.get("token", ""))
        sessions = request.app[SESSIONS]
        session_id = await sessions.open(token)
        if session_id is None:
            if token:
                throttle.fail(address)
            return _page("login.html", 401, error="That token is not valid.")
        if old := request.cookies.get(SESSION_COOKIE):
            await sessions.close(old)
        resp = web.HTTPSeeOther("/report")
        set_session_cookie(resp, session_id, secure=cookie_is_secure(request, public_url), lifetime=sessions.lifetime)
        raise resp

    async def logout(request: web.Request) -> web.Response:
        """Reached only from our own origin when a session is live (the session middleware checks)."""
        if session_id := request.cookies.get(SESSION_COOKIE):
            await request.app[SESSIONS].close(session_id)
        resp = web.HTTPSeeOther("/report")
        clear_session_cookie(resp, secure=cookie_is_secure(request, public_url))
        raise resp

    def required(request: web.Request) -> Principal:
        who = principal(request)
        if who is None:
            raise web.HTTPUnauthorized(text='{"error": "missing or invalid token"}', content_type="application/json")
        return who

    async def data(request: web.Request) -> web.Response:
        who = required(request)
        f, params = filters(request, who)
        now = runtime.service.clock()
        return web.json_response(await dashboard_body(runtime, f, params, who.visible(list(config.profiles)), now))

    async def csv_export(request: web.Request) -> web.Response:
        who = required(request)
        text = await export_csv(runtime.store, ResponseQuery(filters=filters(request, who)[0]), shown)
        return web.Response(
            text=text, content_type="text/csv", headers={"Content-Disposition": 'attachment; filename="responses.csv"'}
        )

    async def asset(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in ASSETS:
            raise web.HTTPNotFound()
        body = (STATIC / name).read_bytes()
        return web.Response(body=body, content_type=ASSETS[name], headers={"Cache-Control": "no-cache"})

    return [
        web.get("/report", page),
        web.post("/report/login", login),
        web.post("/report/logout", logout),
        web.get("/report/data.json", data),
        web.get("/report/responses.csv", csv_export),
        web.get("/report/static/{name}", asset),
    ]
