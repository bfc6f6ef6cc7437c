"""`profiles.<p>.channels.slack`: one Slack app per profile, serving one workspace (a `bot_token`), many (`oauth`:
"Add to Slack", each workspace's tokens stored encrypted), or both (the `bot_token`'s workspace, plus any that
install the app)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, model_validator

NAME = "slack"  # the channel's one name: config key, outbox rows, URLs
# What npsbot needs of a workspace (README, "Slack"): read who people are and the messages and reactions that close
# and answer a survey, post questions and alerts, and the /nps-close command.
BOT_SCOPES = (
    "channels:history", "chat:write", "commands", "groups:history", "im:history", "mpim:history", "reactions:read",
    "users:read",
)  # fmt: skip
# A workspace key is a team id (T…) or, for an app installed org-wide, the Enterprise Grid org's id (E…).
WORKSPACE = re.compile(r"[TE][A-Z0-9]{2,31}")


class SlackOAuth(BaseModel):
    """`channels.slack.oauth`: the app is distributed ("Add to Slack" at /slack/<profile>/install); each workspace
    or org that installs it gets its own tokens, kept encrypted in the database."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=5)
    scopes: list[str] = Field(default_factory=lambda: list(BOT_SCOPES), min_length=1)
    user_scopes: list[str] = Field(default_factory=list)
    # Default: server.public_url + /slack/<profile>/oauth_redirect; without either, Slack uses the app's only one.
    redirect_uri: str | None = Field(None, pattern=r"^https?://")
    install_page: bool = True  # an "Add to Slack" page at /install; false: /install sends the browser on to Slack
    success_url: str | None = Field(None, pattern=r"^https?://")  # where the installer lands once installed
    failure_url: str | None = Field(None, pattern=r"^https?://")
    state_expiration_seconds: int = Field(600, ge=60, le=3600)  # an install must finish within this
    # Refresh a workspace's expiring token this long before it expires (the app has token rotation on); off, a
    # token is refreshed only once Slack answers `token_expired`.
    token_rotation: bool = True
    token_rotation_expiration_minutes: int = Field(120, ge=1, le=720)
    authorization_url: str = Field("https://slack.com/oauth/v2/authorize", pattern=r"^https?://")


class SlackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bot_token: str | None = Field(None, min_length=5)  # one workspace: the token of the app installed there
    signing_secret: str = Field(min_length=5)
    oauth: SlackOAuth | None = None
    api_base: str | None = None  # a test fake of the Web API
    close_reaction: str = "white_check_mark"
    agents: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _served(self) -> SlackConfig:
        if self.bot_token is None and self.oauth is None:
            raise ValueError("set bot_token (one workspace), oauth (every workspace that installs the app), or both")
        return self


def stores_tokens(config: SlackConfig) -> str | None:
    """Installs through OAuth keep each workspace's tokens in the database, encrypted."""
    return "oauth" if config.oauth is not None else None


def split_destination(destination: str) -> tuple[str | None, str]:
    """An alert destination `T0123ABCD/C0456EFGH` is (workspace, channel); a bare channel has no workspace."""
    workspace, slash, channel = destination.rpartition("/")
    return (workspace, channel) if slash else (None, destination)


def destination_problem(config: SlackConfig, destination: str) -> str | None:
    """An alert goes to a channel of one workspace: with many, the destination names it."""
    workspace, channel = split_destination(destination)
    if workspace is not None and (not WORKSPACE.fullmatch(workspace) or not channel or "/" in workspace):
        return "expected <workspace>/<channel>, e.g. T0123ABCD/C0456EFGH (a team id, or an E… org id)"
    if workspace is None and config.bot_token is None:
        return "this Slack app serves the workspaces that install it: name one, e.g. T0123ABCD/C0456EFGH"
    return None
