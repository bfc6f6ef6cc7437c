"""Which bot serves a Slack request or a send: the installation of the workspace it concerns (OAuth), or the
configured `bot_token`'s. An installation whose token expires (the app has token rotation on) is refreshed before
it does, through slack_sdk's token rotator, and again whenever Slack answers `token_expired`; a refresh is saved
only over the version it started from, so two processes refreshing at once end up using the same tokens."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from cachetools import TTLCache
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.config import SlackConfig
from adapters.slack.installations import SlackInstallationStore, lookup_keys
from core.installations import Installation as Stored
from core.installations import Installations
from core.secrets import SecretBox

log = logging.getLogger(__name__)
CACHE_SECONDS = 30  # another process's refresh or removal is seen within this (a send failing on it reads again)
FORCE = 10**9  # minutes: "refresh whatever the expiry says"
RACE_PAUSES = (0.05, 0.2, 0.5, 1.0)  # seconds between looks for another process's refresh, after Slack refused ours


class NotInstalled(Exception):
    """No installation serves this workspace: it never installed the app here, or removed it."""

    def __init__(self, workspace: str | None, removed: bool) -> None:
        super().__init__(workspace)
        self.workspace = workspace
        self.removed = removed

    def __str__(self) -> str:
        if self.removed:
            return "workspace uninstalled"
        if self.workspace is None:
            return "no Slack workspace named (this app serves the workspaces that install it)"
        return f"Slack workspace {self.workspace} has not installed the app"


class RefreshFailed(Exception):
    """Slack refused to refresh a workspace's token (its refresh token was revoked or already used)."""


@dataclass(frozen=True)
class Served:
    """A workspace's bot: its token and identity, and where it came from (`record`: a stored installation)."""

    workspace: str | None
    token: str
    identity: AuthorizeResult | None  # None: a send through the configured token, which needs no identity
    record: Stored | None = None
    installation: Installation | None = None

    @property
    def refreshable(self) -> bool:
        return self.installation is not None and self.installation.bot_refresh_token is not None


def _identity(installation: Installation, token: str) -> AuthorizeResult:
    """Bolt's view of the bot, from what the installation recorded: no auth.test per request."""
    return AuthorizeResult(
        enterprise_id=installation.enterprise_id,
        team_id=installation.team_id,
        team=installation.team_name,
        bot_user_id=installation.bot_user_id,
        bot_id=installation.bot_id,
        bot_token=token,
        bot_scopes=installation.bot_scopes,
    )


def _expiring(installation: Installation | None, minutes: int) -> bool:
    """Whether a token of it expires within `minutes` (slack_sdk's rotator reads the wall clock the same way)."""
    if installation is None:
        return False
    soon = time.time() + minutes * 60
    times = (installation.bot_token_expires_at, installation.user_token_expires_at)
    return any(t is not None and t <= soon for t in times)


class Workspaces:
    def __init__(
        self,
        profile: str,
        config: SlackConfig,
        client: AsyncWebClient,
        installs: Installations,
        box: SecretBox | None,
    ) -> None:
        self.profile = profile
        self.config = config
        self.client = client  # the channel's: its session refuses redirects; each call names its token
        self.stored = installs
        self._default: AuthorizeResult | None = None
        self._cache: TTLCache[tuple[str, ...], Served] = TTLCache(maxsize=10_000, ttl=CACHE_SECONDS)
        self._locks: dict[str, asyncio.Lock] = {}
        self.installs: SlackInstallationStore | None = None
        self.rotator: AsyncTokenRotator | None = None
        oauth = config.oauth
        if oauth is not None:
            if box is None:  # check-config refuses this; tokens are never stored in the clear
                raise ValueError("Slack OAuth stores tokens encrypted: no token keys are configured")
            self.installs = SlackInstallationStore(installs, box, self._cache.clear)
            self.rotator = AsyncTokenRotator(
                client_id=oauth.client_id, client_secret=oauth.client_secret, client=client
            )

    # ---- the configured bot_token -------------------------------------------------------------------------------

    async def default(self) -> AuthorizeResult:
        """The configured bot_token's identity, learned once (auth.test) so no request waits on it afterwards."""
        if self._default is None:
            try:
                found = await self.client.auth_test(token=self.config.bot_token)
            except SlackApiError as exc:
                # Bolt answers 200 to a failed authorize, and the event would be lost; a 500 makes Slack retry.
                raise ConnectionError(f"Slack auth.test failed: {exc.response.get('error')}") from exc
            self._default = AuthorizeResult.from_auth_test_response(
                auth_test_response=found, bot_token=self.config.bot_token
            )
        return self._default

    def _default_serves(self, identity: AuthorizeResult, workspace: str | None) -> bool:
        """The configured token serves its own workspace; alone (no OAuth), every request the app receives."""
        return self.installs is None or workspace is None or workspace in (identity.team_id, identity.enterprise_id)

    async def _by_default(self) -> Served:
        identity = await self.default()
        assert self.config.bot_token is not None
        return Served(identity.team_id or identity.enterprise_id, self.config.bot_token, identity)

    # ---- requests and sends -------------------------------------------------------------------------------------

    async def for_request(
        self, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None, *, refresh: bool
    ) -> Served:
        """The bot serving a request from this team (or org). `refresh`: rotate an expiring token first."""
        keys = lookup_keys(enterprise_id, team_id, is_enterprise_install)
        if self.installs is not None:
            found = await self._installed(keys, refresh)
            if found is not None:
                return found
        if self.config.bot_token is not None:
            served = await self._by_default()
            if served.identity is not None and self._default_serves(served.identity, keys[0] if keys else None):
                return served
        raise NotInstalled(keys[0] if keys else None, removed=False)

    async def for_send(self, workspace: str | None) -> Served:
        """The bot a send to `workspace` goes through (None: the configured token's workspace)."""
        if workspace is not None and self.installs is not None:
            found = await self._installed([workspace], refresh=self._rotates)
            if found is not None:
                return found
        if self.config.bot_token is not None:
            if self.installs is None or workspace is None:  # no auth.test needed to know the token serves it
                return Served(workspace, self.config.bot_token, None)
            served = await self._by_default()
            if served.identity is not None and self._default_serves(served.identity, workspace):
                return served
        removed = workspace is not None and await self._removed(workspace)
        raise NotInstalled(workspace, removed)

    @property
    def _rotates(self) -> bool:
        return self.config.oauth is not None and self.config.oauth.token_rotation

    async def _removed(self, workspace: str) -> bool:
        return await self.stored.removed(workspace)

    async def _installed(self, keys: list[str], refresh: bool) -> Served | None:
        if not keys:
            return None
        cache_key = tuple(keys)
        served = self._cache.get(cache_key)
        if served is None:
            assert self.installs is not None
            record = await self.stored.find(keys)
            if record is None:
                return None
            served = self._served(record, self.installs.installation(record))
            self._cache[cache_key] = served
        minutes = self.config.oauth.token_rotation_expiration_minutes if self.config.oauth else 0
        if refresh and self._rotates and served.refreshable and _expiring(served.installation, minutes):
            served = await self._rotate(served, minutes)
            self._cache[cache_key] = served
        return served

    def _served(self, record: Stored, installation: Installation) -> Served:
        token = installation.bot_token
        if token is None:
            raise NotInstalled(record.workspace, removed=True)
        return Served(record.workspace, token, _identity(installation, token), record, installation)

    async def refresh(self, served: Served) -> Served:
        """A new token now, whatever its expiry said (Slack answered `token_expired`)."""
        if not served.refreshable:
            raise RefreshFailed("token expired, and no refresh token to renew it")
        fresh = await self._rotate(served, FORCE)
        self._cache.clear()
        return fresh

    async def _rotate(self, served: Served, minutes: int) -> Served:
        """Rotate the tokens if they expire within `minutes`, one refresh per workspace at a time."""
        assert self.installs is not None and self.rotator is not None
        assert served.record is not None and served.installation is not None
        lock = self._locks.setdefault(served.record.workspace, asyncio.Lock())
        async with lock:
            current = await self._current(served)
            if current.record is not None and current.record.version != served.record.version:
                return current  # refreshed meanwhile, here or by another process
            try:
                rotated = await self.rotator.perform_token_rotation(
                    installation=served.installation, minutes_before_expiration=minutes
                )
            except SlackTokenRotationError as exc:
                # Another process may have refreshed first with the refresh token we also held (Slack spends it):
                # its tokens are saved a moment after its answer, so look a few times before giving up.
                for pause in RACE_PAUSES:
                    again = await self._current(served)
                    if again.record is not None and again.record.version != served.record.version:
                        return again
                    await asyncio.sleep(pause)
                error = exc.api_error.response.get("error") if isinstance(exc.api_error, SlackApiError) else None
                raise RefreshFailed(f"token refresh refused ({error or 'error'})") from None
            if rotated is None:
                return served
            saved = await self.installs.replace(served.record, rotated)
            if saved is None:
                return await self._current(served)
            log.info("slack %s: refreshed the token of workspace %s", self.profile, saved.workspace)
            return self._served(saved, rotated)

    async def _current(self, served: Served) -> Served:
        """The installation as stored now (another process may have refreshed or removed it)."""
        assert self.installs is not None and served.record is not None
        record = await self.stored.find([served.record.workspace])
        if record is None:
            raise NotInstalled(served.record.workspace, removed=True)
        return self._served(record, self.installs.installation(record))

    # ---- removal ------------------------------------------------------------------------------------------------

    async def uninstalled(self, workspace: str | None, reason: str) -> None:
        """The workspace removed the app (or revoked its bot token)."""
        if workspace is None:
            return
        if self.installs is None:  # the configured token's workspace: mark it removed all the same
            done = await self.stored.remove(workspace, reason)
            log.warning(
                "slack %s: workspace %s uninstalled the app; its configured bot_token no longer works "
                "(%d open surveys skipped, %d queued messages given up)",
                self.profile,
                workspace,
                done.surveys,
                done.messages,
            )
        else:
            await self.installs.remove(workspace, reason)
        self._cache.clear()

    async def gone(self, workspace: str) -> bool:
        """Whether the workspace removed the app, as stored now (not as cached)."""
        self._cache.clear()
        return await self._removed(workspace)

    async def user_token_revoked(self, workspace: str | None, user_id: str) -> None:
        if workspace is not None and self.installs is not None:
            await self.installs.drop_user_token([workspace], user_id)
            self._cache.clear()

    async def default_works(self) -> None:
        """The configured token authenticated: a removal recorded for its workspace no longer holds."""
        identity = await self.default()
        workspace = identity.team_id or identity.enterprise_id
        if workspace and await self.stored.forget_removal(workspace):
            log.info("slack %s: workspace %s serves again through the configured bot_token", self.profile, workspace)
