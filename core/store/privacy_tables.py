"""The suppression list, the audit log and the key the suppression hashes are made with when none is configured."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer
from sqlmodel import Field, SQLModel


class SuppressionRow(SQLModel, table=True):
    """A person who asked to be erased: never surveyed again in `profile`. Only a keyed hash of (profile, channel,
    address) is kept, so the list names nobody; the profile and channel are there to count entries by."""

    __tablename__ = "suppressions"

    hash: str = Field(primary_key=True, max_length=64)
    profile: str = Field(max_length=64)
    channel: str = Field(max_length=32)
    created_at: datetime


class AuditRow(SQLModel, table=True):
    """Who did what, when: claims, resolutions, erasures, exports, token use, configuration loads. Never message
    text, and never the address of a person (an erasure names them by a keyed hash)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_action", "action", "id"),
        Index("ix_audit_profile", "profile", "id"),
        Index("ix_audit_at", "at"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    at: datetime
    actor: str = Field(max_length=191)
    action: str = Field(max_length=32)
    profile: str | None = Field(default=None, max_length=64)
    target: str | None = Field(default=None, max_length=191)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class PrivacyKeyRow(SQLModel, table=True):
    """A key generated once, when the configuration gives none (`privacy.hash_key`), so every process of a
    deployment hashes alike."""

    __tablename__ = "privacy_keys"

    name: str = Field(primary_key=True, max_length=32)
    secret: str = Field(max_length=128)
    created_at: datetime
