"""The handoff store: SQLAlchemy 2 typed models, one naming convention so migrations are stable."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores naive text; it is read back as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the handoff store; use UTC-aware values")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # slug: billing, devices, …
    name: Mapped[str] = mapped_column(String(200))


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class AgentTeam(Base):
    """Team membership, with the agent's skills in that team (e.g. languages, devices)."""

    __tablename__ = "agent_teams"

    agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    team_id: Mapped[str] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    skills: Mapped[list[Any]] = mapped_column(default=list)


class AgentSession(Base):
    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime]


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_queue", "status", "priority_level", "sla_due_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(String(255), unique=True)  # Rasa sender id
    channel: Mapped[str | None] = mapped_column(String(50))
    customer_id: Mapped[str | None] = mapped_column(String(255))
    customer_name: Mapped[str | None] = mapped_column(String(200))
    customer_language: Mapped[str] = mapped_column(String(20), default="en")
    status: Mapped[str] = mapped_column(String(20), default="bot")
    priority_level: Mapped[int] = mapped_column(Integer, default=3)
    priority_name: Mapped[str] = mapped_column(String(20), default="normal")
    first_response_minutes: Mapped[int | None] = mapped_column(Integer)
    mode: Mapped[str | None] = mapped_column(String(10))
    team: Mapped[str | None] = mapped_column(String(64), index=True)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    triage_topic: Mapped[str | None] = mapped_column(String(50))
    triage_description: Mapped[str | None] = mapped_column(Text)
    triage_reference: Mapped[str | None] = mapped_column(String(200))
    triage_mode_preference: Mapped[str | None] = mapped_column(String(10))
    triage_device_name: Mapped[str | None] = mapped_column(String(200))
    frustration_score: Mapped[float] = mapped_column(Float, default=0.0)
    frustration_signals: Mapped[list[Any]] = mapped_column(default=list)
    escalation_reason: Mapped[str | None] = mapped_column(String(50))
    sla_due_at: Mapped[datetime | None]
    sla_warned_at: Mapped[datetime | None]
    sla_breached_at: Mapped[datetime | None]
    queued_at: Mapped[datetime | None]
    assigned_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    returned_to_bot_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    assigned_agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), index=True
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The last `Message.seq` handed out in this conversation (Messages.add_line).
    last_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    anonymised_at: Mapped[datetime | None]  # set once by retention (handoff/services/retention.py)


class Message(Base):
    """One transcript line. `created_at` is the event's own time, so late arrivals sort right;
    `seq` is the order lines were stored in within their conversation (increasing, committed in
    that order, gaps possible): the cursor a reconnecting client resyncs from."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "dedupe_key"),
        UniqueConstraint("conversation_id", "seq"),
        Index("ix_messages_conversation_created", "conversation_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    author_type: Mapped[str] = mapped_column(String(20))
    author_name: Mapped[str | None] = mapped_column(String(200))
    author_agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL")
    )
    text: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    channel_message_id: Mapped[str | None] = mapped_column(String(255))
    dedupe_key: Mapped[str] = mapped_column(String(255))
    intent: Mapped[str | None] = mapped_column(String(200))
    frustration_score: Mapped[float | None] = mapped_column(Float)
    frustration_signals: Mapped[list[Any]] = mapped_column(default=list)
    delivery_status: Mapped[str | None] = mapped_column(String(20))
    delivery_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    seq: Mapped[int] = mapped_column(Integer)


class Assignment(Base):
    """History of every state change and ownership move of a conversation."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    from_agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    to_agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    by_agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    team: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utc_now)


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class IntakeRequest(Base):
    """A stored Idempotency-Key: stored in the same transaction as the handoff it created."""

    __tablename__ = "intake_requests"

    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    received_at: Mapped[datetime] = mapped_column(default=utc_now)


class IngestCursor(Base):
    """How far an event source has been stored (e.g. the last `events.id` of Rasa's SQL broker)."""

    __tablename__ = "ingest_cursors"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class DeadLetter(Base):
    """An event a source could not store (malformed, or refused by the database), set aside so
    the stream goes on; admins list, retry or discard it (docs/handoff-service.md)."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        UniqueConstraint("source", "fingerprint"),
        Index("ix_dead_letters_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the whole payload
    conversation_id: Mapped[str | None] = mapped_column(String(255))
    event_type: Mapped[str | None] = mapped_column(String(100))
    payload: Mapped[str] = mapped_column(Text)  # at most MAX_PAYLOAD characters
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open")
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_seen_at: Mapped[datetime] = mapped_column(default=utc_now)


class LoginFailure(Base):
    """One failed login, counted by the login throttle under `scope` (account or address)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_subject", "scope", "subject", "failed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(320))  # the lower-cased email, or the address
    failed_at: Mapped[datetime]


class SecureForm(Base):
    """A one-time form link an agent sent (services/secure_forms.py). Only the token's SHA-256 is
    kept; the customer's answers are stored AES-GCM encrypted, bound to the form's id."""

    __tablename__ = "secure_forms"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    requested_by_agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL")
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    label: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | submitted
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)  # nonce + AES-GCM ciphertext


class ErasureAudit(Base):
    """One customer's erasure (handoff/services/erasure.py): who asked, when, which customer
    (a keyed hash, never the id itself), rows removed per store, and the outcome.

    `pending_sender_id` is the only customer data here: it is needed to retry the bot's side
    and is cleared when the erasure is done. `lease_until` lets one instance at a time work on it.
    """

    __tablename__ = "erasure_audit"
    __table_args__ = (Index("ix_erasure_audit_status_next", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    customer_key_hash: Mapped[str] = mapped_column(String(64), index=True)
    requested_by: Mapped[str] = mapped_column(String(320))
    requested_by_agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL")
    )
    requested_at: Mapped[datetime] = mapped_column(default=utc_now)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    pending_sender_id: Mapped[str | None] = mapped_column(Text)


class JobLease(Base):
    """Which instance runs a background job (the SLA monitor, session cleanup) until when:
    taken and renewed by one conditional upsert (handoff/periodic.py), so each round runs once
    across instances."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
