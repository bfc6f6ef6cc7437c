"""SQLModel tables. Unique keys, not application checks, are what make re-delivery harmless."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

metadata = SQLModel.metadata


def _big_id() -> Column:
    """64-bit keys on PostgreSQL; SQLite needs plain INTEGER for its rowid alias."""
    return Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)


class ContactRow(SQLModel, table=True):
    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("profile", "channel", "user_id", name="uq_contact"),
        Index("ix_contact_quiet", "profile", "last_surveyed_at"),  # the retention pass finds contacts gone quiet
        Index("ix_contact_walk", "profile", "id"),  # a campaign walks a profile's contacts in id order (0015)
        Index("ix_contact_person", "profile", "external_id"),  # and finds the other contacts of the same person
    )

    id: int | None = Field(default=None, primary_key=True)
    profile: str = Field(max_length=64)
    channel: str = Field(max_length=32)
    user_id: str = Field(max_length=128)
    locale: str | None = Field(default=None, max_length=16)
    name: str | None = Field(default=None, max_length=256)
    opted_out_at: datetime | None = None
    unreachable_at: datetime | None = None
    last_surveyed_at: datetime | None = None
    # The customer's last message we know of (Meta's 24-hour window); only ever moves forward.
    last_inbound_at: datetime | None = None
    # The survey programme (core/contacts): where a campaign reaches them, their IANA time zone, the operator's
    # attributes (plan, segment, country…), consent, and the operator's own id for the person across channels.
    conversation_id: str | None = Field(default=None, max_length=191)
    workspace: str | None = Field(default=None, max_length=64)
    timezone: str | None = Field(default=None, max_length=64)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict))
    consent: str | None = Field(default=None, max_length=16)  # granted | denied | NULL (not recorded)
    consent_at: datetime | None = None
    external_id: str | None = Field(default=None, max_length=191)
    created_at: datetime | None = None
    updated_at: datetime | None = None


# A completed detractor whose follow-up may still breach a deadline (not claimed or not resolved): a partial index's
# predicate, spelled the same by the queries that use it.
FOLLOWUP_OPEN = "category = 'detractor' AND state = 'completed' AND (claimed_at IS NULL OR resolved_at IS NULL)"
FOLLOWUP_LATEST = "ix_survey_followup_latest"  # those rows newest first (migration 0025)
# those rows by profile and period with what the SLA report's breach test reads, SQLite only (migration 0026)
FOLLOWUP_PROFILE = "ix_survey_followup_profile"


def _partial(where: str) -> dict[str, Any]:
    return {"postgresql_where": text(where), "sqlite_where": text(where)}


# The reports that read raw rows do so through partial indexes of only the rows they read (migration 0020); the
# queries spell the same predicates, so both backends can use them.
COMMENTED = "comment IS NOT NULL"
ASKED_SKIPPED = "state = 'skipped' AND asked_at IS NOT NULL"
UNASKED_UNSKIPPED = "asked_at IS NULL AND state <> 'skipped'"
REPORT_INDEXES = (
    # the latest comments, newest first; a period's and a profile's tested in the index (migration 0025)
    ("ix_survey_commented", ("completed_at", "id", "asked_at", "profile"), COMMENTED),
    ("ix_survey_asked_skipped", ("asked_at",), ASKED_SKIPPED),  # skipped after the question was asked
    ("ix_survey_unasked", ("profile",), UNASKED_UNSKIPPED),  # never asked and not skipped (pending, opted out)
)
# The completed detractors' stored durations with every column the SLA report filters and groups by (migration
# 0021): a duration range's rows are ranked from the index alone.
RANKED = ("claim_seconds", "resolve_seconds")
RANKED_READ = ("asked_at", "profile", "channel", "agent", "team", "locale", "workspace", "kind", "campaign", "variant",
               "claimed_by")  # fmt: skip


def ranked(column: str) -> str:
    """The rows a duration's rank index holds: the completed detractors with that duration stored."""
    return f"{column} IS NOT NULL AND category = 'detractor' AND state = 'completed'"


class SurveyRow(SQLModel, table=True):
    __tablename__ = "surveys"
    __table_args__ = (
        Index("ix_survey_due", "next_check_at"),
        Index("ix_survey_route", "profile", "channel", "conversation_id", "state"),
        Index("ix_survey_report", "profile", "asked_at"),  # every report filters by asked_at
        Index("ix_survey_asked", "asked_at"),
        Index("ix_survey_created", "created_at"),
        Index("ix_survey_person", "channel", "user_id", "profile"),  # erasure and export find a person by it
        Index("ix_survey_question_ref", "question_ref"),  # a delivery status names the question by its ref
        *(Index(n, *cols, postgresql_where=text(w), sqlite_where=text(w)) for n, cols, w in REPORT_INDEXES),
        # The SLA report's percentiles read one duration bucket's rows, its breaches the follow-ups still open.
        *(Index(f"ix_survey_{c[:-8]}_ranked", c, *RANKED_READ, **_partial(ranked(c))) for c in RANKED),
        Index("ix_survey_followup_open", "asked_at", **_partial(FOLLOWUP_OPEN)),
        # the open and claimed follow-ups listed newest first, a period's and a profile's tested in the index (0025)
        Index(FOLLOWUP_LATEST, "id", "asked_at", "profile", **_partial(FOLLOWUP_OPEN)),
        Index(
            FOLLOWUP_PROFILE,
            "profile",
            "asked_at",
            "claimed_at",
            "resolved_at",
            sqlite_where=text(FOLLOWUP_OPEN),
            info={"dialects": ("sqlite",)},
        ).ddl_if(dialect="sqlite"),
    )

    id: int | None = Field(default=None, sa_column=_big_id())
    profile: str = Field(max_length=64)
    channel: str = Field(max_length=32)
    conversation_id: str = Field(max_length=191)
    user_id: str = Field(max_length=128)
    thread: str | None = Field(default=None, max_length=191)
    workspace: str | None = Field(default=None, max_length=64)  # Address.workspace: the Slack team (or org) it lives in
    case_id: str = Field(max_length=191)
    # Set while the survey counts for its case; NULL for skipped ones, so only one real survey per case exists.
    case_key: str | None = Field(default=None, max_length=512, unique=True)
    agent: str | None = Field(default=None, max_length=191)
    team: str | None = Field(default=None, max_length=191)
    locale: str = Field(max_length=16)
    customer_name: str | None = Field(default=None, max_length=256)
    state: str = Field(max_length=16, index=True)
    skip_reason: str | None = Field(default=None, max_length=32)
    score: int | None = None
    category: str | None = Field(default=None, max_length=16)
    comment: str | None = Field(default=None, sa_column=Column(Text))
    reasks: int = 0
    unparsed: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    question_ref: str | None = Field(default=None, max_length=191)
    # What became of the question on the platform: sent, delivered, read or failed (core.question_status).
    question_status: str | None = Field(default=None, max_length=16)
    question_status_at: datetime | None = None
    created_at: datetime
    due_at: datetime | None = None
    asked_at: datetime | None = None
    scored_at: datetime | None = None
    completed_at: datetime | None = None
    next_check_at: datetime | None = None
    claimed_by: str | None = Field(default=None, max_length=191)
    claimed_at: datetime | None = None
    resolved_by: str | None = Field(default=None, max_length=191)
    resolved_at: datetime | None = None
    # From completion to the claim / resolution in seconds (rounded to the millisecond), set with them.
    claim_seconds: float | None = None
    resolve_seconds: float | None = None
    # Routing rules (core/routing): the response's priority (NULL: never routed), tags and the rules that matched.
    priority: str | None = Field(default=None, max_length=16)
    tags: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    matched_rules: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The survey programme: core.survey.Kind, the campaign that asked, the experiment's variant, the customer's time
    # zone and the reminder.
    kind: str = Field(default="transactional", max_length=16)
    campaign: str | None = Field(default=None, max_length=64)
    variant: str | None = Field(default=None, max_length=64)
    timezone: str | None = Field(default=None, max_length=64)
    reminded_at: datetime | None = None


class InboundKeyRow(SQLModel, table=True):
    """One row per delivery already processed (Telegram update, Slack event, webhook-id)."""

    __tablename__ = "inbound_keys"
    __table_args__ = (Index("ix_inbound_key_received", "received_at"),)  # pruned by age (the retention pass)

    key: str = Field(primary_key=True, max_length=255)
    received_at: datetime
    # The survey a conversation close with this key created: a replayed Idempotency-Key is answered with it.
    survey_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


OUTBOX_WAITING = "status IN ('pending', 'sending')"  # a partial index's predicate; queries spell it the same
# The same rows written another way, for the conversations' index alone (migration 0024): the claim's head test
# then matches no other partial index, and PostgreSQL cannot answer it from the id index whatever its statistics.
OUTBOX_UNDELIVERED = "status NOT IN ('sent', 'dead')"


class OutboxRow(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_ready", "status", "next_attempt_at"),
        Index("ix_outbox_order", "ordering_key", "id"),
        Index("ix_outbox_done", "status", "created_at"),  # sent and dead messages are pruned by age
        # Only the messages still to send (migration 0017): the claim never reads a delivered row.
        Index("ix_outbox_waiting", "id", postgresql_where=text(OUTBOX_WAITING), sqlite_where=text(OUTBOX_WAITING)),
        Index(
            "ix_outbox_waiting_order",
            "ordering_key",
            "id",
            postgresql_where=text(OUTBOX_UNDELIVERED),
            sqlite_where=text(OUTBOX_UNDELIVERED),
        ),
    )

    id: int | None = Field(default=None, sa_column=_big_id())
    profile: str = Field(max_length=64)
    channel: str = Field(max_length=32)
    kind: str = Field(max_length=32)
    survey_id: int | None = Field(default=None, sa_column=Column(BigInteger, index=True))
    ordering_key: str = Field(max_length=512)
    target: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime
    lease_until: datetime | None = None
    leased_by: str | None = Field(default=None, max_length=64)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    ref: str | None = Field(default=None, max_length=191)
    created_at: datetime
    sent_at: datetime | None = None


class DeadEndpointRow(SQLModel, table=True):
    """An outbound subscription URL that answered "gone" (410): no more events are queued for it."""

    __tablename__ = "dead_endpoints"

    profile: str = Field(primary_key=True, max_length=64)
    url: str = Field(primary_key=True, max_length=1000)
    gone_at: datetime
    reason: str | None = Field(default=None, sa_column=Column(Text))


class InboundJournalRow(SQLModel, table=True):
    """A verified request already answered 2xx but not yet processed: a platform does not redeliver what it got a
    2xx for, so it waits here until processed (then deleted), or is left `dead` after too many failed attempts."""

    __tablename__ = "inbound_journal"
    __table_args__ = (
        Index("ix_journal_ready", "channel", "profile", "status", "lease_until"),
        Index("ix_journal_dead", "status", "received_at"),  # requests given up on are pruned by age
    )

    id: int | None = Field(default=None, sa_column=_big_id())
    channel: str = Field(max_length=32)
    profile: str = Field(max_length=64)
    body: str = Field(sa_column=Column(Text, nullable=False))
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    received_at: datetime
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    # Not claimable before this: the holder's lease while it processes the row, or the backoff after a failure.
    lease_until: datetime | None = None
    leased_by: str | None = Field(default=None, max_length=64)
    last_error: str | None = Field(default=None, sa_column=Column(Text))


class WebSessionRow(SQLModel, table=True):
    """A dashboard sign-in. Only hashes are kept: a copy of this table opens no session and names no token; the
    token's hash lets a token removed from the configuration end the sessions it opened."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_session_expiry", "expires_at"),)

    id_hash: str = Field(primary_key=True, max_length=64)
    token_hash: str = Field(max_length=64)
    scope: str = Field(sa_column=Column(Text, nullable=False))  # "*" for an admin, else its profile names
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime


from core.store import installation_tables as _installation_tables  # noqa: E402,F401
from core.store import privacy_tables as _privacy_tables  # noqa: E402,F401
from core.store import retention_tables as _retention_tables  # noqa: E402,F401
from core.store import rollup_log_tables as _rollup_log_tables  # noqa: E402,F401
from core.store import rollup_tables as _rollup_tables  # noqa: E402,F401
from core.store import sla_tables as _sla_tables  # noqa: E402,F401
from core.store import theme_tables as _theme_tables  # noqa: E402,F401
