"""A transcript line as the service stores it, whoever wrote it (the bot's events, an agent's
reply, a system notice), and the frustration reading it carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from handoff.shapes import FrustrationShape


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
    """A transcript line for the conversation `conversation_id` (Rasa sender id).

    `attachments` are the contract's `Attachment.to_json()` objects; a reaction's line holds
    the emoji as its text and the reacted-to line's channel id in `reaction_to`; a channel's
    system notice is a `system` line with its `notice_kind`.
    """

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
    reaction_to: str | None = None
    notice_kind: str | None = None

    @property
    def at(self) -> datetime:
        return self.created_at
