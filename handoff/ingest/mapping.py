"""Rasa broker events (`{"sender_id": ..., **event.as_dict()}`) as transcript lines or updates.

Pure functions. Dedupe keys are shared with the intake transcript so a line that reaches the store
both ways is kept once: `user` -> its `message_id`; `bot` -> `metadata.handoff_message_id` when
the line was sent by this service through a connector, else a hash of timestamp and text.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from handoff.pii import mask_text

CHANNEL_ALIASES = {"rest": "webchat", "facebook": "messenger"}


@dataclass(frozen=True)
class Frustration:
    score: float
    signals: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: Any) -> Frustration | None:
        if not isinstance(value, dict) or value.get("score") is None:
            return None
        return cls(float(value["score"]), tuple(str(s) for s in value.get("signals") or ()))

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


def event_time(timestamp: Any) -> datetime:
    """A Rasa event timestamp (epoch seconds) or ISO-8601 string, as UTC, to the millisecond."""
    if isinstance(timestamp, (int, float)):
        moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    elif isinstance(timestamp, str) and timestamp:
        moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        moment = (
            moment.astimezone(timezone.utc)
            if moment.tzinfo
            else moment.replace(tzinfo=timezone.utc)
        )
    else:
        raise ValueError(f"event without a usable timestamp: {timestamp!r}")
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


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


def map_event(event: dict[str, Any]) -> Mapped | None:
    """The store's view of one event; None for events without a conversation or time."""
    sender = event.get("sender_id")
    if not sender or event.get("timestamp") is None:
        return None
    at = event_time(event["timestamp"])
    kind = event.get("event")
    if kind == "user":
        if (event.get("metadata") or {}).get("is_external"):
            return None  # an intent triggered through Rasa's API (return to bot), not the customer
        return _customer_line(str(sender), at, event)
    if kind == "bot" and event.get("text"):
        metadata = event.get("metadata") or {}
        text = mask_text(str(event["text"]))
        return Line(
            conversation_id=str(sender),
            dedupe_key=bot_key(metadata.get("handoff_message_id"), at, text),
            author_type=str(metadata.get("author_type") or "bot"),
            author_name=metadata.get("author_name"),
            text=text,
            created_at=at,
        )
    if kind == "slot" and event.get("name") == "frustration":
        reading = Frustration.parse(event.get("value"))
        if reading is not None:
            return FrustrationReading(str(sender), reading, at)
    return Seen(str(sender), at)


def _customer_line(sender: str, at: datetime, event: dict[str, Any]) -> Line:
    parse_data = event.get("parse_data") or {}
    metadata = event.get("metadata") or parse_data.get("metadata") or {}
    text = mask_text(str(event.get("text") or ""))
    return Line(
        conversation_id=sender,
        dedupe_key=customer_key(event.get("message_id"), at, text),
        author_type="customer",
        text=text,
        created_at=at,
        attachments=list(metadata.get("attachments") or []),
        channel_message_id=event.get("message_id"),
        intent=(parse_data.get("intent") or {}).get("name"),
        frustration=Frustration.parse(parse_data.get("frustration")),
        channel=channel_name(event.get("input_channel")),
    )
