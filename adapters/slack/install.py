""" "Add to Slack": `/slack/{profile}/install` starts slack-bolt's OAuth flow (a single-use `state`, kept in the
database and in a cookie of the installer's browser), `/slack/{profile}/oauth_redirect` finishes it (the state
checked, the code exchanged at oauth.v2.access, the installation stored with its tokens encrypted). Anything
wrong gets a 4xx page naming what, and stores nothing."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions, AsyncFailureArgs, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.config import WORKSPACE, SlackOAuth
from adapters.slack.installations import SlackInstallationStore, SlackStateStore

log = logging.getLogger(__name__)
INSTALL, REDIRECT = "/slack/{profile}/install", "/slack/{profile}/oauth_redirect"
# bolt's reasons for failing a callback; any other reason is the `error` Slack sent back (the installer cancelled).
OURS = frozenset({"invalid_browser", "invalid_state", "missing_code", "invalid_code", "storage_error"})
PARAM = re.compile(r"[A-Za-z0-9._~-]{1,256}")  # what a state or code may look like; anything else is refused unread
PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Add {brand} surveys to Slack</title></head>
<body>
<h1>Add {brand} surveys to Slack</h1>
<p><a href="{url}">Add to Slack</a></p>
<p>Slack asks you to choose a workspace and to allow what the app needs; you come back here when done.</p>
</body>
</html>
"""


class Installer:
    """The two routes of one profile's "Add to Slack" flow."""

    def __init__(
        self,
        profile: str,
        brand: str,
        oauth: SlackOAuth,
        public_url: str | None,
        client: AsyncWebClient,
        installations: SlackInstallationStore,
        states: SlackStateStore,
    ) -> None:
        self.profile = profile
        self.brand = brand
        self.page = oauth.install_page
        redirect = oauth.redirect_uri
        if redirect is None and public_url:
            redirect = public_url.rstrip("/") + REDIRECT.format(profile=profile)
        settings = AsyncOAuthSettings(
            client_id=oauth.client_id,
            client_secret=oauth.client_secret,
            scopes=oauth.scopes,
            user_scopes=oauth.user_scopes,
            redirect_uri=redirect,
            install_path=INSTALL.format(profile=profile),
            install_page_rendering_enabled=False,  # our own page: bolt's loads an image and styles from elsewhere
            redirect_uri_path=REDIRECT.format(profile=profile),
            callback_options=AsyncCallbackOptions(success=self._success, failure=self._failure),
            success_url=oauth.success_url,
            failure_url=oauth.failure_url,
            authorization_url=oauth.authorization_url,
            installation_store=installations,
            token_rotation_expiration_minutes=oauth.token_rotation_expiration_minutes,
            state_store=states,
            state_cookie_name=f"npsbot-slack-{profile}",  # one per profile: two installs under way don't collide
            state_expiration_seconds=oauth.state_expiration_seconds,
            logger=log,
        )
        # The channel's client: oauth.v2.access and auth.test go through its session, which refuses redirects.
        self.flow = AsyncOAuthFlow(client=client, logger=log, settings=settings)

    def mount(self, app: web.Application) -> None:
        app.router.add_get(INSTALL.format(profile=self.profile), self.install)
        app.router.add_get(REDIRECT.format(profile=self.profile), self.redirect)

    async def install(self, request: web.Request) -> web.Response:
        """A new state (stored, and set as a cookie), then the "Add to Slack" page or straight on to Slack.
        `?team=T…` preselects a workspace; it goes into Slack's URL, so nothing but a team id is accepted."""
        team = request.query.get("team")
        if team is not None and not WORKSPACE.fullmatch(team):
            return _page(400, "team: expected a Slack team id such as T0123ABCD")
        query = {"team": [team]} if team else {}
        answer = await self.flow.handle_installation(AsyncBoltRequest(body="", query=query))
        if not self.page:
            return await to_aiohttp_response(answer)
        url = answer.headers["location"][0]
        answer.status = 200
        answer.headers = {k: v for k, v in answer.headers.items() if k == "set-cookie"}
        answer.headers["content-type"] = ["text/html"]
        answer.body = PAGE.format(brand=html.escape(self.brand), url=html.escape(url))
        return await to_aiohttp_response(answer)

    async def redirect(self, request: web.Request) -> web.Response:
        """Slack sends the installer's browser back here with `code` and `state` (or `error`)."""
        query = request.query
        for name in ("state", "code"):
            value = query.get(name)
            if value is not None and not PARAM.fullmatch(value):
                return _page(400, f"{name}: not what Slack sends")
        cookie = request.headers.get("Cookie")
        headers: Mapping[str, str] = {"cookie": cookie} if cookie is not None else {}
        params = {k: [v] for k, v in query.items() if k in ("state", "code", "error")}
        answer = await self.flow.handle_callback(AsyncBoltRequest(body="", query=params, headers=dict(headers)))
        return await to_aiohttp_response(answer)

    async def _success(self, args: AsyncSuccessArgs) -> BoltResponse:
        return await args.default.success(args)

    async def _failure(self, args: AsyncFailureArgs) -> BoltResponse:
        """bolt's page, with a 4xx for everything the request got wrong. Slack's own `error` (the installer
        cancelled, say) comes with bolt's 200: it is a failed install all the same."""
        status = args.suggested_status_code if args.suggested_status_code >= 400 else 400
        reason = args.reason if args.reason in OURS else "slack_error"
        log.info("slack %s: an install did not complete (%s)", self.profile, reason)
        failed = AsyncFailureArgs(
            request=args.request,
            reason=args.reason,
            error=args.error,
            suggested_status_code=status,
            settings=args.settings,
            default=args.default,
        )
        return await args.default.failure(failed)


def _page(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
