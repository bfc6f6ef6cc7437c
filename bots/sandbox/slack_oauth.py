"""Slack's side of a distributed app, for FakeSlack: the installs an installer's "Allow" would create (answered once
per code by oauth.v2.access), token rotation (oauth.v2.access with grant_type=refresh_token, oauth.v2.exchange),
and what each token issued here is (auth.test answers per token; a revoked token gets `token_revoked`, an expired
one `token_expired`). Shapes follow Slack's reference pages: docs.slack.dev/reference/methods/oauth.v2.access,
docs.slack.dev/authentication/using-token-rotation and api.slack.com/enterprise/apps/reference (org-wide)."""

from __future__ import annotations

import base64
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

OAUTH_METHODS = frozenset({"oauth.v2.access", "oauth.v2.exchange"})
SCOPE = "channels:history,chat:write,commands,groups:history,im:history,mpim:history,reactions:read,users:read"
TWELVE_HOURS = 43200  # what Slack's rotating tokens live


@dataclass
class Grant:
    """One install into a workspace (or, `is_enterprise_install`, an Enterprise Grid org)."""

    team_id: str | None = "T0WORK0001"
    team_name: str | None = "Work One"
    enterprise_id: str | None = None
    enterprise_name: str | None = None
    is_enterprise_install: bool = False
    installer: str = "U0INSTALL1"
    scope: str = SCOPE
    user_scope: str = ""  # user scopes asked for: the installer gets a user token too
    expires_in: int | None = None  # token rotation on: tokens expire after this, each with a refresh token
    app_id: str = "A0NPSBOT01"
    bot_user_id: str = "U0BOTUSER1"
    bot_id: str = "B0BOT00001"

    @property
    def workspace(self) -> str | None:
        return self.enterprise_id if self.is_enterprise_install else self.team_id


@dataclass
class Issued:
    """A token this fake handed out."""

    token: str
    kind: str  # "bot" or "user"
    grant: Grant
    expires_at: float | None = None
    revoked: bool = False
    expired: bool = False  # Slack answers token_expired for it, whatever its expiry said


@dataclass
class SlackWorkspaces:
    client_id: str = "1000000001.2000000002"
    client_secret: str = "fake-slack-client-secret"
    codes: dict[str, Grant] = field(default_factory=dict)  # single use, as Slack's are
    tokens: dict[str, Issued] = field(default_factory=dict)
    refresh_tokens: dict[str, Issued] = field(default_factory=dict)  # refresh token -> what it renews; single use
    refresh_expires_in: int = TWELVE_HOURS  # the lifetime of tokens a refresh hands out
    _n: itertools.count = field(default_factory=lambda: itertools.count(1))

    def grant(self, code: str, **fields: Any) -> Grant:
        """An installer allowed the app: Slack redirects their browser with `code`, good for one exchange."""
        self.codes[code] = found = Grant(**fields)
        return found

    def bot_token(self, workspace: str) -> str:
        """The bot token most recently issued for a workspace (team id, or org id for an org-wide install)."""
        return [t for t, i in self.tokens.items() if i.kind == "bot" and i.grant.workspace == workspace][-1]

    def revoke(self, workspace: str) -> None:
        """The workspace uninstalled the app: every token issued for it stops working."""
        for issued in self.tokens.values():
            if issued.grant.workspace == workspace:
                issued.revoked = True

    def problem(self, token: str) -> str | None:
        """Why Slack would refuse a call with this token (None: a token this fake never issued, or a good one)."""
        issued = self.tokens.get(token)
        if issued is None:
            return None
        if issued.revoked:
            return "token_revoked"
        if issued.expired or (issued.expires_at is not None and issued.expires_at <= time.time()):
            return "token_expired"
        return None

    def identity(self, token: str) -> dict[str, Any] | None:
        """auth.test for a token issued here."""
        issued = self.tokens.get(token)
        if issued is None:
            return None
        g = issued.grant
        return {
            "url": f"https://{(g.team_name or 'org').lower().replace(' ', '')}.slack.com/",
            "team": g.team_name,
            "user": "npsbot",
            "team_id": g.team_id,
            "user_id": g.bot_user_id if issued.kind == "bot" else g.installer,
            "enterprise_id": g.enterprise_id,
            "is_enterprise_install": g.is_enterprise_install,
            **({"bot_id": g.bot_id} if issued.kind == "bot" else {}),
        }

    def answer(self, method: str, params: dict[str, Any], authorization: str) -> dict[str, Any] | str:
        """oauth.v2.access / oauth.v2.exchange: the answer's fields, or Slack's error code."""
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        if authorization.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(authorization[6:]).decode().partition(":")
        if client_id != self.client_id:
            return "invalid_client_id"
        if client_secret != self.client_secret:
            return "bad_client_secret"
        if method == "oauth.v2.exchange":
            old = self.tokens.get(str(params.get("token")))
            if old is None or old.revoked:
                return "invalid_token"
            return self._renewal(old, self.refresh_expires_in)
        if params.get("grant_type") == "refresh_token":
            old = self.refresh_tokens.pop(str(params.get("refresh_token")), None)
            if old is None:
                return "invalid_refresh_token"
            return self._renewal(old, self.refresh_expires_in)
        grant = self.codes.pop(str(params.get("code")), None)
        if grant is None:
            return "invalid_code"
        return self._install(grant)

    def _issue(self, kind: str, grant: Grant, expires_in: int | None) -> tuple[str, dict[str, Any]]:
        n = next(self._n)
        prefix = "xoxb" if kind == "bot" else "xoxp"
        where = grant.workspace or "T0"
        token = f"xoxe.{prefix}-1-{where}-{n}" if expires_in else f"{prefix}-{where}-{n}"
        expires_at = time.time() + expires_in if expires_in else None
        self.tokens[token] = issued = Issued(token, kind, grant, expires_at)
        if not expires_in:
            return token, {}
        refresh = f"xoxe-1-{where}-{n}"
        self.refresh_tokens[refresh] = issued
        return token, {"expires_in": expires_in, "refresh_token": refresh}

    def _install(self, g: Grant) -> dict[str, Any]:
        token, rotation = self._issue("bot", g, g.expires_in)
        authed_user: dict[str, Any] = {"id": g.installer}
        if g.user_scope:
            user_token, user_rotation = self._issue("user", g, g.expires_in)
            authed_user |= {"scope": g.user_scope, "access_token": user_token, "token_type": "user", **user_rotation}
        return {
            "access_token": token,
            "token_type": "bot",
            "scope": g.scope,
            "bot_user_id": g.bot_user_id,
            "app_id": g.app_id,
            "team": None if g.is_enterprise_install else {"id": g.team_id, "name": g.team_name},
            "enterprise": {"id": g.enterprise_id, "name": g.enterprise_name} if g.enterprise_id else None,
            "is_enterprise_install": g.is_enterprise_install,
            "authed_user": authed_user,
            **rotation,
        }

    def _renewal(self, old: Issued, expires_in: int) -> dict[str, Any]:
        """A refreshed (or exchanged) token: the new one and its refresh token; the one used is spent."""
        g = old.grant
        token, rotation = self._issue(old.kind, g, expires_in)
        return {
            "access_token": token,
            "token_type": old.kind,
            "scope": g.scope if old.kind == "bot" else g.user_scope,
            "team": None if g.is_enterprise_install else {"id": g.team_id, "name": g.team_name},
            "enterprise": {"id": g.enterprise_id, "name": g.enterprise_name} if g.enterprise_id else None,
            "is_enterprise_install": g.is_enterprise_install,
            **rotation,
        }
