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
from sqlalchemy import (
    Enum as SqlEnum,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from handoff.states import Status

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
    # Stored as the plain strings ("queued"...), no CHECK constraint: read back as `Status`.
    status: Mapped[Status] = mapped_column(
        SqlEnum(
            Status,
            native_enum=False,
            create_constraint=False,
            length=20,
            values_callable=lambda members: [member.value for member in members],
        ),
        default=Status.BOT,
    )
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
    # snoozed (handoff/snooze.py): since when, until when (None: until the customer replies), why
    snoozed_at: Mapped[datetime | None]
    snoozed_until: Mapped[datetime | None] = mapped_column(index=True)
    snooze_note: Mapped[str | None] = mapped_column(Text)
    snoozed_by_agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL")
    )
    # how the latest resolution came about: "person" or "automatic" (handoff/services/threads.py)
    resolution: Mapped[str | None] = mapped_column(String(20))
    # customer-reopened resolutions (within the topic's reopen window), and the latest one
    reopen_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reopened_at: Mapped[datetime | None]


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
    # a reaction's line: the channel id of the line reacted to (its emoji is the text)
    reaction_to: Mapped[str | None] = mapped_column(String(255))
    notice_kind: Mapped[str | None] = mapped_column(String(50))  # a channel's system notice
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


class QueueAgent(Base):
    """An agent's place in the queue (handoff/services/presence.py): presence, capacity, the
    training flag, and when they last got a conversation (the "longest idle" tie-break).

    `lock_counter` is bumped first in every automatic assignment to the agent, so the agent's
    row is locked (PostgreSQL) or the write lock held (SQLite) while their load is counted."""

    __tablename__ = "queue_agents"

    agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    presence: Mapped[str] = mapped_column(String(10), default="offline")
    presence_changed_at: Mapped[datetime] = mapped_column(default=utc_now)
    disconnected_at: Mapped[datetime | None]  # when the agent's last console socket closed
    max_sync: Mapped[int] = mapped_column(Integer, default=3)
    max_async: Mapped[int] = mapped_column(Integer, default=10)
    in_training: Mapped[bool] = mapped_column(Boolean, default=False)
    last_assigned_at: Mapped[datetime | None]
    lock_counter: Mapped[int] = mapped_column(Integer, default=0)


class PresenceChange(Base):
    """One presence change of an agent (online, away, offline), for the presence KPIs
    (handoff/services/presence_kpis.py); written with every `queue_agents.presence` update."""

    __tablename__ = "agent_presence_changes"
    __table_args__ = (Index("ix_agent_presence_changes_agent_at", "agent_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    presence: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime]


class ConsoleConnection(Base):
    """One open console websocket; `seen_at` is refreshed by its instance, so the sockets of an
    instance that died are dropped once they are stale."""

    __tablename__ = "console_connections"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    instance: Mapped[str] = mapped_column(String(64))
    connected_at: Mapped[datetime] = mapped_column(default=utc_now)
    seen_at: Mapped[datetime] = mapped_column(default=utc_now)


class TeamQueue(Base):
    """How a team's queue is worked: `pull` (agents claim) or `auto` (assigned to agents)."""

    __tablename__ = "team_queues"

    team_id: Mapped[str] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    mode: Mapped[str] = mapped_column(String(10), default="pull")
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_by_agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL")
    )


class HandoverNote(Base):
    """A shift handover's note, shown to the next owner at the top of the transcript."""

    __tablename__ = "handover_notes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    from_agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    to_agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class PendingReply(Base):
    """A reply by an agent in training, waiting for a supervisor (handoff/services/approvals.py):
    `pending` until approved (sent, `message_id` the line) or `returned` with a comment."""

    __tablename__ = "pending_replies"
    __table_args__ = (Index("ix_pending_replies_status_created", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    comment: Mapped[str | None] = mapped_column(Text)
    reviewed_by_agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL")
    )
    message_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    reviewed_at: Mapped[datetime | None]


class WebhookEndpoint(Base):
    """An admin's outbound webhook (handoff/services/webhooks.py): where, which events, the
    generated signing secret, and the endpoint's health (consecutive failures pause it)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(200))
    events: Mapped[list[Any]] = mapped_column(default=list)
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # attempts in a row it was down
    paused_until: Mapped[datetime | None]
    created_by_agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class WebhookDelivery(Base):
    """One event for one endpoint: the durable outbox row, written in the transaction of the
    change it reports. `body` is the exact JSON sent (and signed) on every attempt; the retry
    schedule is `next_attempt_at`, so it survives restarts; `lease_until` lets one sender at a
    time work on it. Rows of one endpoint and conversation are sent in `id` order."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_order", "endpoint_id", "conversation_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(32))
    event_type: Mapped[str] = mapped_column(String(50))
    conversation_id: Mapped[str | None] = mapped_column(String(32))  # ours; kept after erasure
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    delivered_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """The delivery log: one row per attempt to send a delivery (answer or error, duration)."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utc_now)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)


class CsatSurvey(Base):
    """The satisfaction survey decision for one resolution (handoff/services/csat.py): skipped
    with the rule and reason, or eligible (and then answered), with the agents who worked on the
    conversation and its frustration at the handoff and at the end."""

    __tablename__ = "csat_surveys"
    __table_args__ = (Index("ix_csat_surveys_customer", "customer_id", "decided_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20))  # skipped | eligible | answered
    rule: Mapped[str | None] = mapped_column(String(50))
    reason: Mapped[str | None] = mapped_column(Text)
    template: Mapped[str | None] = mapped_column(String(100))
    scale: Mapped[str] = mapped_column(String(10))
    due_at: Mapped[datetime | None]
    last_agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    agent_ids: Mapped[list[Any]] = mapped_column(default=list)
    frustration_at_handoff: Mapped[float | None] = mapped_column(Float)
    frustration_at_end: Mapped[float | None] = mapped_column(Float)
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(default=utc_now)
    answered_at: Mapped[datetime | None]


class CannedReply(Base):
    """A reply from a team's library (`team_id` None: every team), with `{placeholders}` filled
    from the conversation when an agent inserts it (handoff/services/canned_replies.py)."""

    __tablename__ = "canned_replies"
    __table_args__ = (Index("ix_canned_replies_team_title", "team_id", "title"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    shortcut: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(20), default="en")
    # triage topics it answers (empty: any); suggested responses rank it first for them
    topics: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    updated_by_agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


# Suggested responses (handoff/services/suggestions.py, docs/suggestions.md).


class SuggestionEntry(Base):
    """An agent's reply mined from a resolved conversation, personal details already replaced by
    placeholders, with the customer context before it and that context's encoder vector."""

    __tablename__ = "suggestion_entries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[str] = mapped_column(String(32), unique=True)
    team: Mapped[str | None] = mapped_column(String(64))
    topic: Mapped[str | None] = mapped_column(String(50))
    device: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(20), default="en")
    context: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    # the encoder's float32 vectors (384 x 4 bytes) of `context` and of `text`
    context_vector: Mapped[bytes] = mapped_column(LargeBinary)
    text_vector: Mapped[bytes] = mapped_column(LargeBinary)
    # set when a supervisor adds it to the canned replies: the approved copy takes its place
    promoted_reply_id: Mapped[str | None] = mapped_column(
        ForeignKey("canned_replies.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)


class SuggestionMined(Base):
    """A resolved conversation whose replies are in `suggestion_entries` (or had none to mine)."""

    __tablename__ = "suggestion_mined"

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    mined_at: Mapped[datetime] = mapped_column(default=utc_now)


class SuggestionFeedback(Base):
    """One suggestion shown to an agent, or what the agent did with it: `used` (sent unchanged),
    `edited` (sent after `edit_distance` character edits) or `rejected` (dismissed, or the agent
    wrote their own). `suggestion` is `approved:<canned reply id>` or `mined:<entry id>`."""

    __tablename__ = "suggestion_feedback"
    __table_args__ = (
        Index("ix_suggestion_feedback_suggestion_topic", "suggestion", "topic"),
        Index("ix_suggestion_feedback_conversation_id", "conversation_id", "suggestion"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    suggestion: Mapped[str] = mapped_column(String(80))
    topic: Mapped[str | None] = mapped_column(String(50))
    outcome: Mapped[str] = mapped_column(String(20))
    text: Mapped[str | None] = mapped_column(Text)  # what was offered (shown rows)
    edit_distance: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


# KPIs (handoff/services/kpis.py, docs/kpis.md): facts derived from the conversations above,
# recomputed per conversation by the KPI refresher; the tables below them are supervisors' data.


# the KPI refresher finds the conversations changed since its last round with this index
Index("ix_conversations_updated_at", Conversation.updated_at)


class KpiEpisode(Base):
    """One handoff of a conversation (intake to resolution or return to bot) and its figures."""

    __tablename__ = "kpi_episodes"
    __table_args__ = (
        UniqueConstraint("conversation_pk", "seq"),
        Index("ix_kpi_episodes_started", "started_at"),
        Index("ix_kpi_episodes_team_started", "team", "started_at"),
        Index("ix_kpi_episodes_open", "end_kind", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_pk: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_kind: Mapped[str | None] = mapped_column(String(20))
    team: Mapped[str | None] = mapped_column(String(64))
    final_team: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(50))
    topic: Mapped[str | None] = mapped_column(String(50))
    priority_level: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str | None] = mapped_column(String(10))
    first_agent_id: Mapped[str | None] = mapped_column(String(32))
    resolved_by_agent_id: Mapped[str | None] = mapped_column(String(32))
    first_response_at: Mapped[datetime | None]
    first_response_seconds: Mapped[float | None] = mapped_column(Float)
    first_response_business_seconds: Mapped[float | None] = mapped_column(Float)
    wait_seconds: Mapped[float] = mapped_column(Float)
    queued_seconds: Mapped[float] = mapped_column(Float)
    handle_seconds: Mapped[float] = mapped_column(Float)
    waiting_customer_seconds: Mapped[float] = mapped_column(Float)
    snoozed_seconds: Mapped[float] = mapped_column(Float)
    resolution_seconds: Mapped[float | None] = mapped_column(Float)
    resolution_business_seconds: Mapped[float | None] = mapped_column(Float)
    agent_replies: Mapped[int] = mapped_column(Integer)
    next_responses: Mapped[int] = mapped_column(Integer)
    next_response_seconds: Mapped[float] = mapped_column(Float)  # their sum
    next_response_max_seconds: Mapped[float | None] = mapped_column(Float)
    next_response_breaches: Mapped[int] = mapped_column(Integer)
    transfers: Mapped[int] = mapped_column(Integer)
    reopen: Mapped[bool] = mapped_column(Boolean)
    reopened: Mapped[bool] = mapped_column(Boolean)
    abandoned: Mapped[bool] = mapped_column(Boolean)
    fcr: Mapped[bool] = mapped_column(Boolean)
    sla_first_response: Mapped[str | None] = mapped_column(String(10))  # met | breached
    sla_resolution: Mapped[str | None] = mapped_column(String(10))
    frustration_start: Mapped[float | None] = mapped_column(Float)
    frustration_end: Mapped[float | None] = mapped_column(Float)


class KpiAgentWork(Base):
    """One agent's part of one episode (per-agent KPIs)."""

    __tablename__ = "kpi_agent_work"
    __table_args__ = (
        Index("ix_kpi_agent_work_agent_started", "agent_id", "started_at"),
        Index("ix_kpi_agent_work_started", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_pk: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    episode_seq: Mapped[int] = mapped_column(Integer)  # KpiEpisode.seq of the same conversation
    agent_id: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    team: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(50))
    topic: Mapped[str | None] = mapped_column(String(50))
    priority_level: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str | None] = mapped_column(String(10))
    assigned_seconds: Mapped[float] = mapped_column(Float)
    handle_seconds: Mapped[float] = mapped_column(Float)
    replies: Mapped[int] = mapped_column(Integer)
    answers: Mapped[int] = mapped_column(Integer)
    tar_seconds: Mapped[float] = mapped_column(Float)
    response_handle_seconds: Mapped[float] = mapped_column(Float)
    first_tar_seconds: Mapped[float | None] = mapped_column(Float)
    resolved: Mapped[bool] = mapped_column(Boolean)


class KpiSegment(Base):
    """Who held a conversation when: bot, queued, agent, snoozed, resolved (docs/kpis.md)."""

    __tablename__ = "kpi_segments"
    # the agents' segments that overlap a slice (presence KPIs): by agent, then end
    __table_args__ = (Index("ix_kpi_segments_agent_ended", "agent_id", "ended_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_pk: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    episode_seq: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    agent_id: Mapped[str | None] = mapped_column(String(32))
    team: Mapped[str | None] = mapped_column(String(64))


class KpiBotContact(Base):
    """Customer activity while the bot held the conversation: contained or handed off."""

    __tablename__ = "kpi_bot_contacts"
    __table_args__ = (Index("ix_kpi_bot_contacts_started", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_pk: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime]
    channel: Mapped[str | None] = mapped_column(String(50))
    topic: Mapped[str | None] = mapped_column(String(50))
    handed_off: Mapped[bool] = mapped_column(Boolean)


class SlaTarget(Base):
    """Supervisors' SLA targets per priority and mode (seconds; None: no target)."""

    __tablename__ = "sla_targets"

    priority_level: Mapped[int] = mapped_column(Integer, primary_key=True)
    mode: Mapped[str] = mapped_column(String(10), primary_key=True)
    first_response_seconds: Mapped[int | None] = mapped_column(Integer)
    next_response_seconds: Mapped[int | None] = mapped_column(Integer)
    resolution_seconds: Mapped[int | None] = mapped_column(Integer)
    business_hours: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_by_agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL")
    )


class ApiKey(Base):
    """A read-only API key for BI tools (only its SHA-256 is kept), created by a supervisor."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists so a key can be recognised
    scope: Mapped[str] = mapped_column(String(20), default="kpis:read")
    created_by_agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class KpiAlert(Base):
    """One episode of an alert condition (SLA at risk or breached, a volume spike) for a team.

    `open_key` is `kind:team` while the condition lasts and NULL once cleared: the unique index
    makes "once per episode" hold across service instances."""

    __tablename__ = "kpi_alerts"
    __table_args__ = (Index("ix_kpi_alerts_status_opened", "status", "opened_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(30))
    team: Mapped[str] = mapped_column(String(64))
    open_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | cleared
    opened_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]
    summary: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    conversation_ids: Mapped[list[Any]] = mapped_column(default=list)
    notified: Mapped[str] = mapped_column(String(20), default="")  # events sent: "opened,cleared"
    notify_attempts: Mapped[int] = mapped_column(Integer, default=0)
    notify_error: Mapped[str | None] = mapped_column(Text)


class BulkAction(Base):
    """A supervisor's crisis action on the conversations a filter selected
    (handoff/services/bulk_actions.py): the audit record, and what an undo needs.

    `previous` maps each changed conversation's id to the value the action replaced (its tags
    or its team); an undo puts back only those the action's value is still on."""

    __tablename__ = "bulk_actions"
    __table_args__ = (Index("ix_bulk_actions_created", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(20))  # tag | move | reply | resolve
    selection: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the filter, as given
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the tag, team or text
    conversation_ids: Mapped[list[Any]] = mapped_column(default=list)
    previous: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    undone_at: Mapped[datetime | None]
    undone_by_agent_id: Mapped[str | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL")
    )


class Customer(Base):
    """One person across channels and conversations (handoff/services/customers.py)."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class CustomerIdentity(Base):
    """Something that tells a customer apart: an account id, email, phone, order reference, or a
    channel's sender id. Each belongs to one customer, so the same value found again links there."""

    __tablename__ = "customer_identities"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # account | email | phone | order | sender
    value: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class CustomerConversation(Base):
    """Which customer a conversation belongs to; `linked_by`: "triage" or the merging agent."""

    __tablename__ = "customer_conversations"

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    linked_by: Mapped[str] = mapped_column(String(32))
    linked_at: Mapped[datetime] = mapped_column(default=utc_now)
