"""slack_sdk's installation and OAuth state stores, kept in npsbot's own database (core.installations) so any
process can finish an install another started and every process serves every workspace. Slack's `Installation`
is split into what is secret (its tokens, sealed with the operator's keys by core.secrets) and what is not (ids,
names, scopes, who installed it, when the tokens expire)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from core.installations import Installation as Stored
from core.installations import Installations, Removal
from core.secrets import SecretBox

log = logging.getLogger(__name__)
SECRET_FIELDS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token", "incoming_webhook_url")
DETAIL_FIELDS = (
    "app_id", "enterprise_id", "enterprise_name", "enterprise_url", "team_id", "team_name", "bot_id", "bot_user_id",
    "bot_scopes", "bot_token_expires_at", "user_id", "user_scopes", "user_token_expires_at", "incoming_webhook_channel",
    "incoming_webhook_channel_id", "incoming_webhook_configuration_url", "is_enterprise_install", "token_type",
    "installed_at",
)  # fmt: skip
UNINSTALLED = "workspace uninstalled"
MAX_STATE = 256


def workspace_key(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None) -> str | None:
    """What a survey's Address.workspace holds: the team id, or the org's id when the app is installed org-wide
    (one installation then serves every workspace of the org)."""
    if is_enterprise_install and enterprise_id:
        return enterprise_id
    return team_id or enterprise_id


def lookup_keys(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None) -> list[str]:
    """The installations that may serve a request, best first: the workspace's own, then its org's."""
    first = workspace_key(enterprise_id, team_id, is_enterprise_install)
    keys = [first] if first else []
    if enterprise_id and enterprise_id not in keys:
        keys.append(enterprise_id)
    return keys


def installation_key(installation: Installation | Bot) -> str | None:
    return workspace_key(installation.enterprise_id, installation.team_id, installation.is_enterprise_install)


def _epoch(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _details(installation: Installation) -> dict[str, Any]:
    found = {name: getattr(installation, name) for name in DETAIL_FIELDS}
    found["bot_scopes"] = list(installation.bot_scopes or [])
    found["user_scopes"] = list(installation.user_scopes or [])
    return found


def _expiry(installation: Installation) -> datetime | None:
    times = [t for t in (installation.bot_token_expires_at, installation.user_token_expires_at) if t is not None]
    return _epoch(min(times)) if times else None


class SlackInstallationStore(AsyncInstallationStore):
    """slack_sdk's storage interface for one profile's app, implemented over core.installations. Writes call
    `changed` too, so the channel's cache of served workspaces forgets what changed."""

    def __init__(self, installs: Installations, box: SecretBox, changed: Callable[[], None] = lambda: None) -> None:
        self.installs = installs
        self.box = box
        self.profile = installs.profile
        self.changed = changed

    @property
    def logger(self) -> logging.Logger:
        return log

    # ---- between Slack's shape and the stored one ---------------------------------------------------------------

    def record(self, installation: Installation) -> Stored:
        key = installation_key(installation)
        if not key:
            raise ValueError("an installation names neither a team nor an org")
        sealed = self.box.seal({name: getattr(installation, name) for name in SECRET_FIELDS})
        return self.installs.new(
            key,
            organization=installation.enterprise_id,
            installed_by=installation.user_id,
            details=_details(installation),
            secrets=sealed,
            expires_at=_expiry(installation),
        )

    def installation(self, record: Stored) -> Installation:
        """The stored installation as slack_sdk's (tokens opened with the configured keys)."""
        opened = self.box.open(record.secrets) if record.secrets else {}
        details = {k: v for k, v in record.details.items() if k in DETAIL_FIELDS}
        return Installation(**details, **{k: opened.get(k) for k in SECRET_FIELDS})

    # ---- AsyncInstallationStore ---------------------------------------------------------------------------------

    async def async_save(self, installation: Installation) -> None:
        record = await self.installs.save(self.record(installation))
        self.changed()
        scopes = ",".join(installation.bot_scopes or [])
        org = " (org-wide)" if installation.is_enterprise_install else ""
        log.info("slack %s: installed in workspace %s%s, bot scopes %s", self.profile, record.workspace, org, scopes)

    async def async_save_bot(self, bot: Bot) -> None:
        """A bot's refreshed token, saved into its installation (which keeps its installer and user token)."""
        key = installation_key(bot)
        record = await self.installs.find([key] if key else [])
        if record is None:
            return
        current = self.installation(record)
        current.bot_token, current.bot_refresh_token = bot.bot_token, bot.bot_refresh_token
        current.bot_token_expires_at = bot.bot_token_expires_at
        await self.replace(record, current)

    async def replace(self, record: Stored, installation: Installation) -> Stored | None:
        """Save new tokens over exactly `record`'s version; None when another process saved first."""
        sealed = self.box.seal({name: getattr(installation, name) for name in SECRET_FIELDS})
        saved = await self.installs.replace_secrets(record, sealed, _expiry(installation), _details(installation))
        self.changed()
        return saved

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        record = await self.installs.find(lookup_keys(enterprise_id, team_id, is_enterprise_install))
        if record is None or (user_id is not None and record.installed_by != user_id):
            return None  # only the installer's own user token is kept
        return self.installation(record)

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        found = await self.async_find_installation(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )
        return None if found is None or found.bot_token is None else found.to_bot()

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """Without its bot token the app can't post there: the installation is removed."""
        await self.remove(workspace_key(enterprise_id, team_id, False), UNINSTALLED)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        if user_id is None:
            await self.remove(workspace_key(enterprise_id, team_id, False), UNINSTALLED)
            return
        await self.drop_user_token(lookup_keys(enterprise_id, team_id, False), user_id)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.remove(workspace_key(enterprise_id, team_id, False), UNINSTALLED)

    # ---- removal ------------------------------------------------------------------------------------------------

    async def remove(self, workspace: str | None, reason: str) -> Removal | None:
        if not workspace:
            return None
        done = await self.installs.remove(workspace, reason)
        self.changed()
        log.info(
            "slack %s: workspace %s removed (%s): %d open surveys skipped, %d queued messages given up",
            self.profile,
            workspace,
            reason,
            done.surveys,
            done.messages,
        )
        return done

    async def drop_user_token(self, workspaces: list[str], user_id: str) -> None:
        """The installer's user token was revoked: the installation stays, without it."""
        for _ in range(3):  # another process may refresh the tokens meanwhile: read again and retry
            record = await self.installs.find(workspaces)
            if record is None or record.installed_by != user_id:
                return
            current = self.installation(record)
            if current.user_token is None:
                return
            current.user_token = current.user_refresh_token = current.user_token_expires_at = None
            if await self.replace(record, current) is not None:
                return


class SlackStateStore(AsyncOAuthStateStore):
    """The install flow's `state`: random, kept only as its SHA-256 in the database, valid once and for
    `expiration_seconds`, for this profile alone."""

    def __init__(self, installs: Installations, expiration_seconds: int) -> None:
        self.installs = installs
        self.ttl = timedelta(seconds=expiration_seconds)

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(32)
        await self.installs.add_state(_hash(state), self.installs.clock() + self.ttl)
        return state

    async def async_consume(self, state: str) -> bool:
        if not state or len(state) > MAX_STATE:
            return False
        return await self.installs.take_state(_hash(state))


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8", "replace")).hexdigest()
