"""Rasa broker events (`{"sender_id": ..., **event.as_dict()}`) and intake transcript lines as
the store's transcript lines or updates.

Pure functions. Each event is validated at this boundary against an explicit shape per event
type (`UserEvent`, `BotEvent`, `SlotEvent`, any other type as `AnyEvent`); an event that does
not fit raises `InvalidInput` naming the field, and nothing else is raised for any JSON input,
so a source can set it aside and go on. Which line an event is, and the line's dedupe key, are
the contract the bot's transcript shares (`contracts/transcript.py`): an event is turned into
the same `TranscriptLine` the intake request carries, and both become a `Line` in `line_of`, so
a line that reaches the store both ways is kept once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from contracts.errors import ContractError
from contracts.transcript import Attachment, Reaction, SystemNotice, dedupe_key, transcript_line
from contracts.transcript import handoff_key as handoff_key
from contracts.values import CUSTOMER, channel_name
from handoff.lines import Frustration, Line
from handoff.pii import mask_text
from handoff.shapes import (
    AuthorType,
    Chars,
    Clean,
    FrustrationShape,
    InvalidInput,
    Shape,
    Storable,
    Time,
    contract_checked,
    event_time,
    validated,
)

__all__ = ["InvalidInput", "event_time", "handoff_key", "line_of", "map_event"]

# Message ids become dedupe keys (`user:<id>`, `handoff:<id>`) in a 255-character column.
MessageId = Annotated[str, Chars(240), Storable]


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


class TranscriptLine(Shape):
    """A line of the contract (`contracts.transcript.LINE_FIELDS`), as the store can keep it."""

    author_type: AuthorType | None = None
    text: Clean
    timestamp: Time
    author_name: Annotated[str, Chars(200), Storable] | None = None
    message_id: MessageId | None = None
    handoff_message_id: MessageId | None = None
    intent: Annotated[str, Chars(200), Storable] | None = None
    frustration: FrustrationShape | None = None
    channel: Annotated[str, Chars(50), Storable] | None = None
    attachments: Annotated[
        tuple[Attachment, ...] | None, contract_checked(Attachment.list_from_json)
    ] = None
    reaction: Annotated[Reaction | None, contract_checked(Reaction.from_json)] = None
    system_notice: Annotated[SystemNotice | None, contract_checked(SystemNotice.from_json)] = None


def line_of(conversation_id: str, line: TranscriptLine) -> Line:
    """The store's line for a checked transcript line: text and captions masked, its key."""
    author = line.author_type or "bot"
    from_customer_side = author == CUSTOMER or line.system_notice is not None
    said = mask_text(line.text or (line.reaction.emoji if line.reaction else ""))
    message_id = line.message_id if from_customer_side else None
    return Line(
        conversation_id=conversation_id,
        dedupe_key=dedupe_key(author, line.timestamp, said, message_id, line.handoff_message_id),
        author_type=author,
        author_name=line.author_name,
        text=said,
        created_at=line.timestamp,
        attachments=[_masked(attachment) for attachment in line.attachments or ()],
        channel_message_id=message_id,
        intent=line.intent if author == CUSTOMER else None,
        frustration=Frustration.of(line.frustration),
        channel=channel_name(line.channel),
        reaction_to=line.reaction.message_id if line.reaction else None,
        notice_kind=line.system_notice.kind if line.system_notice else None,
    )


def _masked(attachment: Attachment) -> dict[str, Any]:
    shown = attachment.to_json()
    if attachment.caption:
        shown["caption"] = mask_text(attachment.caption)
    return shown


class AnyEvent(Shape):
    """What every event needs: whose conversation, and when."""

    sender_id: Annotated[str, Chars(255, min_length=1), Storable]
    timestamp: Time
    event: Annotated[str, Chars(100), Storable] | None = None


class UserMetadata(Shape):
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
        metadata = user.metadata or (user.parse_data.metadata if user.parse_data else None)
        if metadata and metadata.is_external:
            return None  # an intent triggered through Rasa's API (return to bot), not the customer
        return _line(user, event)
    if kind == "bot":
        return _line(validated(BotEvent, event), event)
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


def _line(checked: AnyEvent, event: dict[str, Any]) -> Line | Seen:
    """The contract's line for a checked user or bot event; Seen when it is no line (a bot
    message without text, a user message with nothing to show)."""
    try:
        line = transcript_line(event)
    except ContractError as error:
        raise InvalidInput(error.field, error.problem, error.missing) from None
    if line is None:
        return Seen(checked.sender_id, checked.timestamp)
    return line_of(checked.sender_id, validated(TranscriptLine, line))
