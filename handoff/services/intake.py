"""Intake of handoff requests from the bot (docs/handoff-intake.md).

The Idempotency-Key is stored in the same transaction as the handoff; a replayed key gets 200 and
the conversation as it is now. A new key for a conversation already with people updates its queue
entry (200, `handoff.updated`); for a conversation with the bot or resolved it queues it (201).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.errors import BadRequest, Invalid
from handoff.ingest.mapping import (
    Frustration,
    Line,
    bot_key,
    channel_name,
    customer_key,
    event_time,
)
from handoff.live import Broadcaster
from handoff.models import IntakeRequest, utc_now
from handoff.pii import mask_text
from handoff.repositories import Conversations, History, Messages, status_in
from handoff.services.views import load_conversation
from handoff.states import Action, transition

MODES = ("sync", "async")
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Handoff:
    """A validated intake body."""

    conversation_id: str
    channel: str | None
    customer_id: str
    customer_name: str | None
    language: str
    triage: dict[str, str | None]
    priority_level: int
    priority_name: str
    first_response_minutes: int | None
    mode: str
    team: str
    tags: list[str]
    reasons: list[str]
    frustration: Frustration | None
    escalation_reason: str | None
    requested_at: datetime | None
    transcript: list[Line] = field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        """Columns a new intake sets on the conversation (the state change sets the rest)."""
        values: dict[str, Any] = {
            "customer_id": self.customer_id,
            "customer_language": self.language,
            "priority_level": self.priority_level,
            "priority_name": self.priority_name,
            "first_response_minutes": self.first_response_minutes,
            "mode": self.mode,
            "team": self.team,
            "tags": self.tags,
            "reasons": self.reasons,
            "escalation_reason": self.escalation_reason,
            **{f"triage_{name}": value for name, value in self.triage.items()},
        }
        if self.channel:
            values["channel"] = self.channel
        if self.customer_name:
            values["customer_name"] = self.customer_name
        if self.frustration:
            values["frustration_score"] = self.frustration.score
            values["frustration_signals"] = list(self.frustration.signals)
        return values


@dataclass(frozen=True)
class IntakeResult:
    created: bool
    replayed: bool
    conversation: dict[str, Any]


class IntakeService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], live: Broadcaster) -> None:
        self.sessions = sessions
        self.live = live

    async def receive(self, key: str | None, body: Any) -> IntakeResult:
        key = (key or "").strip()
        if not key:
            raise BadRequest("The Idempotency-Key header is required.", "missing_idempotency_key")
        if len(key) > MAX_KEY_LENGTH:
            raise Invalid(f"Idempotency-Key is longer than {MAX_KEY_LENGTH} characters.")
        if (replay := await self._replay(key)) is not None:
            return replay
        handoff = parse_handoff(body)
        try:
            async with self.sessions.begin() as session:
                created, conversation_pk = await self._store(session, key, handoff)
        except IntegrityError:
            # the same key committed by a concurrent request: answer as a replay
            if (replay := await self._replay(key)) is not None:
                return replay
            raise
        async with self.sessions() as session:
            view = await load_conversation(session, conversation_pk)
        kind = "handoff.created" if created else "handoff.updated"
        await self.live.publish({"type": kind, "conversation": view})
        return IntakeResult(created=created, replayed=False, conversation=view)

    async def _replay(self, key: str) -> IntakeResult | None:
        async with self.sessions() as session:
            stored = await session.get(IntakeRequest, key)
            if stored is None:
                return None
            view = await load_conversation(session, stored.conversation_id)
        return IntakeResult(created=False, replayed=True, conversation=view)

    async def _store(self, session: AsyncSession, key: str, handoff: Handoff) -> tuple[bool, str]:
        now = utc_now()
        conversations = Conversations(session)
        conversation_pk = await conversations.ensure(handoff.conversation_id, handoff.channel, now)
        session.add(IntakeRequest(idempotency_key=key, conversation_id=conversation_pk))
        await session.flush()
        queued_at = min(handoff.requested_at or now, now)
        due = handoff.first_response_minutes
        step = transition(Action.INTAKE)
        created = await conversations.update_where(
            conversation_pk,
            status_in(step.sources),
            status=step.target.value,
            queued_at=queued_at,
            sla_due_at=queued_at + timedelta(minutes=due) if due is not None else None,
            assigned_agent_id=None,
            assigned_at=None,
            first_response_at=None,
            resolved_at=None,
            sla_warned_at=None,
            sla_breached_at=None,
            **handoff.fields(),
        )
        if not created:
            row = await conversations.get(conversation_pk)
            assert row is not None
            start = row.queued_at or queued_at
            await conversations.update_where(
                conversation_pk,
                sla_due_at=start + timedelta(minutes=due) if due is not None else row.sla_due_at,
                **handoff.fields(),
            )
        messages = Messages(session)
        for line in handoff.transcript:
            await messages.add_line(conversation_pk, line)
        History(session).record(
            conversation_pk,
            Action.INTAKE.value if created else "intake_update",
            team=handoff.team,
            note=handoff.escalation_reason,
        )
        return created, conversation_pk


def parse_handoff(body: Any) -> Handoff:
    """The intake body validated: 400 when it is not an object or lacks a field, 422 when a
    field has the wrong type or value."""
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.", "malformed_body")
    for name in ("conversation_id", "priority", "mode", "team"):
        if body.get(name) in (None, ""):
            raise BadRequest(f"Field {name!r} is required.", "missing_field")
    conversation_id = _text(body, "conversation_id", limit=255)
    customer = _object(body, "customer")
    triage = _object(body, "triage")
    priority = _object(body, "priority")
    level = priority.get("level")
    if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 4:
        raise Invalid("priority.level must be a whole number from 1 (urgent) to 4 (low).")
    minutes = priority.get("first_response_minutes")
    if minutes is not None and (not isinstance(minutes, int) or minutes < 0):
        raise Invalid("priority.first_response_minutes must be a positive whole number.")
    mode = body["mode"]
    if mode not in MODES:
        raise Invalid(f"mode must be one of {', '.join(MODES)}.")
    channel = body.get("channel")
    return Handoff(
        conversation_id=conversation_id,
        channel=channel_name(_text(body, "channel", limit=50)) if channel else None,
        customer_id=_text(customer, "id", limit=255) or conversation_id,
        customer_name=_text(customer, "name", limit=200),
        language=_text(customer, "language", limit=20) or "en",
        triage={
            name: _text(triage, name, limit=4000)
            for name in ("topic", "description", "reference", "mode_preference", "device_name")
        },
        priority_level=level,
        priority_name=_text(priority, "name", limit=20) or "normal",
        first_response_minutes=minutes,
        mode=mode,
        team=_text(body, "team", limit=64) or "",
        tags=_strings(body, "tags"),
        reasons=_strings(body, "reasons"),
        frustration=_frustration(body.get("frustration")),
        escalation_reason=_text(body, "escalation_reason", limit=50),
        requested_at=_time(body.get("requested_at"), "requested_at"),
        transcript=_transcript(conversation_id, body.get("transcript")),
    )


def _object(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name) or {}
    if not isinstance(value, dict):
        raise Invalid(f"{name} must be an object.")
    return value


def _text(body: dict[str, Any], name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise Invalid(f"{name} must be a string of at most {limit} characters.")
    return value


def _strings(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Invalid(f"{name} must be a list of strings.")
    return value


def _frustration(value: Any) -> Frustration | None:
    if value is None:
        return None
    try:
        reading = Frustration.parse(value)
    except (TypeError, ValueError):
        reading = None
    if reading is None or not 0 <= reading.score <= 1:
        raise Invalid("frustration must be {score: 0..1, signals: [...]}.")
    return reading


def _time(value: Any, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return event_time(value)
    except (TypeError, ValueError):
        raise Invalid(f"{name} must be an ISO-8601 time, e.g. 2026-11-21T12:00:00.000Z.") from None


def _transcript(conversation_id: str, value: Any) -> list[Line]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid("transcript must be a list of lines.")
    lines = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise Invalid(f"transcript[{index}] must be an object with a text.")
        at = _time(item.get("timestamp"), f"transcript[{index}].timestamp")
        if at is None:
            raise Invalid(f"transcript[{index}] needs a timestamp.")
        author = str(item.get("author_type") or "bot")
        text = mask_text(item["text"])
        if author == "customer":
            key = customer_key(item.get("message_id"), at, text)
        else:
            key = bot_key(item.get("handoff_message_id"), at, text)
        lines.append(
            Line(
                conversation_id=conversation_id,
                dedupe_key=key,
                author_type=author,
                author_name=item.get("author_name"),
                text=text,
                created_at=at,
                channel_message_id=item.get("message_id") if author == "customer" else None,
                intent=item.get("intent") if author == "customer" else None,
                frustration=_frustration(item.get("frustration")),
                channel=channel_name(item.get("channel")),
            )
        )
    return lines
