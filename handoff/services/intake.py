"""Intake of handoff requests from the bot (docs/handoff-intake.md).

The Idempotency-Key is stored in the same transaction as the handoff; a replayed key gets 200 and
the conversation as it is now. A new key for a conversation already with people updates its queue
entry (200, `handoff.updated`); for a conversation with the bot or resolved it queues it (201).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts.values import channel_name
from handoff.errors import BadRequest, Invalid, found, from_contract
from handoff.ingest.mapping import TranscriptLine, line_of
from handoff.lines import Frustration, Line
from handoff.live import Broadcaster
from handoff.models import IntakeRequest, utc_now
from handoff.repositories import Conversations, History, Messages, status_in
from handoff.services import customers, webhooks
from handoff.services.unit_of_work import unit_of_work
from handoff.services.views import load_conversation
from handoff.shapes import (
    Chars,
    Clean,
    FrustrationShape,
    InvalidInput,
    Shape,
    Storable,
    Time,
    validated,
)
from handoff.states import Action, Status, transition

MAX_KEY_LENGTH = 200
MAX_FIRST_RESPONSE_MINUTES = 60 * 24 * 365  # a year: beyond it is a mistake, not a promise
REQUIRED = ("conversation_id", "priority", "mode", "team")


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
            async with unit_of_work(self.sessions, self.live) as work:
                created, conversation_pk = await self._store(work.session, key, handoff)
                kind = "handoff.created" if created else "handoff.updated"
                view = await work.announce(kind, conversation_pk)
        except IntegrityError:
            # the same key committed by a concurrent request: answer as a replay
            if (replay := await self._replay(key)) is not None:
                return replay
            raise
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
        before = await conversations.get(conversation_pk)
        reopened = before is not None and before.status == Status.RESOLVED.value
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
            row = found(await conversations.get(conversation_pk), "conversation")
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
        await customers.link(session, conversation_pk)
        if created:
            event = "conversation.reopened" if reopened else "handoff.created"
            await webhooks.record(session, event, conversation_pk)
        return created, conversation_pk


class CustomerShape(Shape):
    id: Annotated[str, Chars(255), Storable] | None = None
    name: Annotated[str, Chars(200), Storable] | None = None
    language: Annotated[str, Chars(20), Storable] | None = None


class TriageShape(Shape):
    topic: Annotated[str, Chars(50), Storable] | None = None
    description: Annotated[str, Chars(4000), Storable] | None = None
    reference: Annotated[str, Chars(200), Storable] | None = None
    mode_preference: Annotated[str, Chars(10), Storable] | None = None
    device_name: Annotated[str, Chars(200), Storable] | None = None


class PriorityShape(Shape):
    level: Annotated[int, Field(ge=1, le=4)]
    name: Annotated[str, Chars(20), Storable] | None = None
    first_response_minutes: Annotated[int, Field(ge=0, le=MAX_FIRST_RESPONSE_MINUTES)] | None = None


class HandoffBody(Shape):
    conversation_id: Annotated[str, Chars(255, min_length=1), Storable]
    channel: Annotated[str, Chars(50), Storable] | None = None
    customer: CustomerShape | None = None
    triage: TriageShape | None = None
    priority: PriorityShape
    mode: Literal["sync", "async"]
    team: Annotated[str, Chars(64, min_length=1), Storable]
    tags: Annotated[list[Annotated[str, Chars(200), Storable]], Field(max_length=100)] | None = None
    reasons: Annotated[list[Clean], Field(max_length=100)] | None = None
    frustration: FrustrationShape | None = None
    escalation_reason: Annotated[str, Chars(50), Storable] | None = None
    requested_at: Annotated[Time | None, BeforeValidator(lambda value: value or None)] = None
    transcript: list[TranscriptLine] | None = None


def parse_handoff(body: Any) -> Handoff:
    """The intake body validated: 400 when it is not an object or lacks a field, 422 naming the
    field when a value has the wrong type, does not fit its column or is out of range."""
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.", "malformed_body")
    for name in REQUIRED:
        if body.get(name) in (None, ""):
            raise BadRequest(f"Field {name!r} is required.", "missing_field")
    try:
        shape = validated(HandoffBody, body)
    except InvalidInput as error:
        raise from_contract(error) from None
    customer = shape.customer or CustomerShape()
    triage = shape.triage or TriageShape()
    return Handoff(
        conversation_id=shape.conversation_id,
        channel=channel_name(shape.channel),
        customer_id=customer.id or shape.conversation_id,
        customer_name=customer.name,
        language=customer.language or "en",
        triage=triage.model_dump(),
        priority_level=shape.priority.level,
        priority_name=shape.priority.name or "normal",
        first_response_minutes=shape.priority.first_response_minutes,
        mode=shape.mode,
        team=shape.team,
        tags=list(shape.tags or []),
        reasons=list(shape.reasons or []),
        frustration=Frustration.of(shape.frustration),
        escalation_reason=shape.escalation_reason,
        requested_at=shape.requested_at,
        transcript=[line_of(shape.conversation_id, line) for line in shape.transcript or []],
    )
