"""Installations of a profile's channel into the platform's tenants (Slack workspaces and Enterprise Grid orgs), and
the single-use states of the install flow. Tokens are kept only as one blob sealed by core.secrets; the other
columns name the tenant and say when the tokens expire, so nothing here opens a conversation on its own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class InstallationRow(SQLModel, table=True):
    """One tenant's installation. Removing it (the workspace uninstalled the app) drops the sealed tokens but keeps
    the row, with when and why, so work still arriving for that tenant is known as uninstalled rather than
    unknown; installing again brings it back."""

    __tablename__ = "installations"
    __table_args__ = (UniqueConstraint("channel", "profile", "workspace", name="uq_installation"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    channel: str = Field(max_length=32)
    profile: str = Field(max_length=64)
    workspace: str = Field(max_length=64)  # what Address.workspace holds: a team id, or an org id for an org install
    organization: str | None = Field(default=None, max_length=64)  # the org a workspace belongs to, if any
    installed_by: str | None = Field(default=None, max_length=64)  # the platform's id of who installed it
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # nothing secret
    secrets: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # core.secrets' sealed blob
    expires_at: datetime | None = None  # when the first of its tokens expires (token rotation); None: never
    version: int = 0  # bumped by every write: a token refresh is saved only over the version it started from
    installed_at: datetime
    updated_at: datetime
    removed_at: datetime | None = None
    removed_reason: str | None = Field(default=None, max_length=64)


class InstallStateRow(SQLModel, table=True):
    """An install flow under way: the SHA-256 of the `state` handed to the platform, valid once and until it
    expires. Any process may finish the flow another one started."""

    __tablename__ = "install_states"
    __table_args__ = (Index("ix_install_state_expiry", "expires_at"),)

    state_hash: str = Field(primary_key=True, max_length=64)
    channel: str = Field(max_length=32)
    profile: str = Field(max_length=64)
    expires_at: datetime
