"""Rasa broker events (`{"sender_id": ..., **event.as_dict()}`) as transcript lines or updates.

Pure functions. Each event is validated at this boundary against an explicit shape per event
type (`UserEvent`, `BotEvent`, `SlotEvent`, any other type as `AnyEvent`); an event that does
not fit raises `InvalidInput` naming the field, and nothing else is raised for any JSON input,
so a source can set it aside and go on. Dedupe keys are shared with the intake transcript so a
line that reaches the store both ways is kept once: `user` -> its `message_id`; `bot` ->
`metadata.handoff_message_id` when the line was sent by this service through a connector, else
a hash of timestamp and text.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from handoff.ingest.shapes import (
    Chars,
    Clean,
    FrustrationShape,
    InvalidInput,
    Shape,
    Storable,
    Time,
    event_time,
    validated,
)

__all__ = ["InvalidInput", "event_time", "map_event"]

from handoff.pii import mask_text

CHANNEL_ALIASES = {"rest": "webchat", "facebook": "messenger"}
# Message ids become dedupe keys (`user:<id>`, `handoff:<id>`) in a 255-character column.
MessageId = Annotated[str, Chars(240), Storable]
Attachments = list[dict[str, Any] | Clean]


@dataclass(frozen=True)
class Frustration:
    score: float
    signals: tuple[str, ...] = ()

    @classmethod
    def of(cls, shape: FrustrationShape | None) -> Frustration | None:
        return None if shape is None else cls(shape.score, tuple(shape.signals))

    def merge(self, other: Frustration | None) -> Frustration:
        """The higher score and the union of signals, in first-seen order (idempotent)."""
        if other is None:
            return self
        signals = tuple(dict.fromkeys((*self.signals, *other.signals)))
        return Frustration(max(self.score, other.score), signals)


@dataclass(frozen=True)
class Line:
    """A transcript line for the conversation `conversation_id` (Rasa sender id)."""

    conversation_id: str
    dedupe_key: str
    author_type: str
    text: str
    created_at: datetime
    author_name: str | None = None
    attachments: list[Any] = field(default_factory=list)
    channel_message_id: str | None = None
    intent: str | None = None
    frustration: Frustration | None = None
    channel: str | None = None

    @property
    def at(self) -> datetime:
        return self.created_at


@dataclass(frozen=True)
class FrustrationReading:
    """The policy's reading (slot `frustration`), merged into the latest customer line."""

    conversation_id: str
    frustration: Frustration
    at: datetime


@dataclass(frozen=True)
class Seen:
    """Any other event: the conversation exists (bot-only conversations count for containment)."""

    conversation_id: str
    at: datetime


Mapped = Line | FrustrationReading | Seen


def content_key(kind: str, at: datetime, text: str) -> str:
    stamp = at.isoformat(timespec="milliseconds")
    return f"{kind}:" + hashlib.sha256(f"{stamp}\n{text}".encode()).hexdigest()[:40]


def customer_key(message_id: str | None, at: datetime, text: str) -> str:
    return f"user:{message_id}" if message_id else content_key("user", at, text)


def handoff_key(handoff_message_id: str) -> str:
    """The key of a line this service created (agent reply, system line) and delivered."""
    return f"handoff:{handoff_message_id}"


def bot_key(handoff_message_id: str | None, at: datetime, text: str) -> str:
    return handoff_key(handoff_message_id) if handoff_message_id else content_key("bot", at, text)


def channel_name(value: str | None) -> str | None:
    return CHANNEL_ALIASES.get(value, value) if value else None


class AnyEvent(Shape):
    """What every event needs: whose conversation, and when."""

    sender_id: Annotated[str, Chars(255, min_length=1), Storable]
    timestamp: Time
    event: Annotated[str, Chars(100), Storable] | None = None


class UserMetadata(Shape):
    attachments: Attachments | None = Field(default=None, max_length=50)
    is_external: Any = None


class Intent(Shape):
    name: Annotated[str, Chars(200), Storable] | None = None


class ParseData(Shape):
    intent: Intent | None = None
    frustration: FrustrationShape | None = None
    metadata: UserMetadata | None = None


class UserEvent(AnyEvent):
    text: Clean | None = None
    message_id: MessageId | None = None
    input_channel: Annotated[str, Chars(50), Storable] | None = None
    parse_data: ParseData | None = None
    metadata: UserMetadata | None = None


class BotMetadata(Shape):
    handoff_message_id: MessageId | None = None
    author_type: Literal["bot", "agent", "system"] | None = None
    author_name: Annotated[str, Chars(200), Storable] | None = None


class BotEvent(AnyEvent):
    text: Clean | None = None
    metadata: BotMetadata | None = None


class SlotEvent(AnyEvent):
    name: Annotated[str, Chars(200), Storable] | None = None
    value: Any = None


def map_event(event: Any) -> Mapped | None:
    """The store's view of one event; None for events without a conversation or time.

    Raises `InvalidInput` (and only that) when the event does not fit its shape.
    """
    if not isinstance(event, dict):
        raise InvalidInput("", "an event must be a JSON object")
    if event.get("sender_id") in (None, "") or event.get("timestamp") is None:
        return None
    kind = event.get("event")
    if kind == "user":
        user = validated(UserEvent, event)
        if user.metadata and user.metadata.is_external:
            return None  # an intent triggered through Rasa's API (return to bot), not the customer
        return _customer_line(user)
    if kind == "bot":
        bot = validated(BotEvent, event)
        if bot.text:
            return _bot_line(bot)
        return Seen(bot.sender_id, bot.timestamp)
    if kind == "slot":
        slot = validated(SlotEvent, event)
        if slot.name == "frustration" and isinstance(slot.value, dict):
            reading = validated(FrustrationShape, slot.value, at="value")
            return FrustrationReading(
                slot.sender_id, Frustration(reading.score, tuple(reading.signals)), slot.timestamp
            )
        return Seen(slot.sender_id, slot.timestamp)
    other = validated(AnyEvent, event)
    return Seen(other.sender_id, other.timestamp)


def _customer_line(event: UserEvent) -> Line:
    parse_data = event.parse_data or ParseData()
    metadata = event.metadata or parse_data.metadata or UserMetadata()
    text = mask_text(event.text or "")
    return Line(
        conversation_id=event.sender_id,
        dedupe_key=customer_key(event.message_id, event.timestamp, text),
        author_type="customer",
        text=text,
        created_at=event.timestamp,
        attachments=list(metadata.attachments or []),
        channel_message_id=event.message_id,
        intent=parse_data.intent.name if parse_data.intent else None,
        frustration=Frustration.of(parse_data.frustration),
        channel=channel_name(event.input_channel),
    )


def _bot_line(event: BotEvent) -> Line:
    metadata = event.metadata or BotMetadata()
    text = mask_text(event.text or "")
    return Line(
        conversation_id=event.sender_id,
        dedupe_key=bot_key(metadata.handoff_message_id, event.timestamp, text),
        author_type=metadata.author_type or "bot",
        author_name=metadata.author_name,
        text=text,
        created_at=event.timestamp,
    )
