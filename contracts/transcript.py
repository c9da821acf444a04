"""The transcript line, and how a Rasa event becomes one, for the bot and the handoff service.

Both sides map Rasa events (`Event.as_dict()`, plus `sender_id` on the event broker) with
`transcript_line`: the action server to build the transcript it sends at handoff
(`actions/transcript.py`), the handoff service for every event it ingests
(`handoff/ingest/mapping.py`). The service computes each line's `dedupe_key` from the same line,
so a line that reaches it both ways is stored once.

A line is a JSON object (the intake request's `transcript` items, docs/handoff-intake.md):
- customer: `author_type`, `text`, `timestamp`, `message_id`, `intent`, `channel`,
  `frustration`, `entities`, `payload`, `attachments`, `reaction`;
- a channel's system event the customer's side caused (number change, deleted or edited
  message): `author_type: "system"`, `text`, `timestamp`, `message_id`, `channel`,
  `system_notice`;
- bot, agent, system: `author_type`, `text`, `buttons`, `timestamp`, plus `author_name` and
  `handoff_message_id` when the handoff service sent it through a connector.

What the connectors put into a user message's metadata besides its text (shapes below):
`attachments` (a list of `Attachment`), `reaction` (`Reaction`), `system_notice`
(`SystemNotice`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts.errors import ContractError
from contracts.values import (
    BOT,
    BOT_EVENT_AUTHORS,
    CUSTOMER,
    SYSTEM,
    channel_name,
    each,
    format_time,
    obj,
    optional_number,
    optional_text,
    text,
)

logger = logging.getLogger(__name__)

Event = Mapping[str, Any]
Line = dict[str, Any]

ATTACHMENT_KINDS = (
    "image",
    "video",
    "audio",
    "voice",
    "file",
    "sticker",
    "location",
    "contact",
    "link",
)
MAX_ATTACHMENTS = 50
MAX_LIST_ITEMS = 20
# Older connectors wrote `{"type": <Messenger attachment type>, "url", "title"}` or a bare URL.
LEGACY_KINDS = {"fallback": "link", "template": "link"}
# The keys of a line, customer's and others' (the handoff service's intake checks it knows
# every one it stores; tests/handoff/test_contract_shapes.py).
LINE_FIELDS = (
    "author_type",
    "text",
    "timestamp",
    "author_name",
    "message_id",
    "handoff_message_id",
    "intent",
    "frustration",
    "channel",
    "entities",
    "payload",
    "buttons",
    "attachments",
    "reaction",
    "system_notice",
)


@dataclass(frozen=True)
class Contact:
    name: str
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, value: Any) -> Contact:
        body = obj(value)
        return cls(
            name=text(body, "name", 200),
            phones=_texts(body, "phones", 50),
            emails=_texts(body, "emails", 254),
        )

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "phones": list(self.phones), "emails": list(self.emails)}


@dataclass(frozen=True)
class Attachment:
    """Media (opened through the connector by `media_id`), a location, a contact card or a link."""

    kind: str
    caption: str | None = None
    media_id: str | None = None
    url: str | None = None
    mime_type: str | None = None
    filename: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    name: str | None = None
    address: str | None = None
    contact: Contact | None = None

    @classmethod
    def from_json(cls, value: Any) -> Attachment:
        if isinstance(value, str):  # a bare URL, as older connectors wrote it
            return cls.from_json({"kind": "link", "url": value})
        body = obj(value)
        if "kind" not in body and isinstance(body.get("type"), str):
            kind = body["type"]
            body = {
                **body,
                "kind": kind if kind in ATTACHMENT_KINDS else LEGACY_KINDS.get(kind, "file"),
                "name": body.get("name", body.get("title")),
            }
        kind = text(body, "kind")
        if kind not in ATTACHMENT_KINDS:
            raise ContractError("kind", f"must be one of {', '.join(ATTACHMENT_KINDS)}")
        latitude, longitude = optional_number(body, "latitude"), optional_number(body, "longitude")
        if latitude is not None and not -90 <= latitude <= 90:
            raise ContractError("latitude", "must be between -90 and 90")
        if longitude is not None and not -180 <= longitude <= 180:
            raise ContractError("longitude", "must be between -180 and 180")
        contact = body.get("contact")
        try:
            card = None if contact is None else Contact.from_json(contact)
        except ContractError as error:
            raise error.within("contact") from None
        return cls(
            kind=kind,
            caption=optional_text(body, "caption", 4000),
            media_id=optional_text(body, "media_id", 255),
            url=optional_text(body, "url", 2000),
            mime_type=optional_text(body, "mime_type", 100),
            filename=optional_text(body, "filename", 255),
            latitude=latitude,
            longitude=longitude,
            name=optional_text(body, "name", 200),
            address=optional_text(body, "address", 500),
            contact=card,
        )

    @classmethod
    def list_from_json(cls, value: Any) -> tuple[Attachment, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise ContractError("", "must be a list of attachments")
        if len(value) > MAX_ATTACHMENTS:
            raise ContractError("", f"must hold at most {MAX_ATTACHMENTS} attachments")
        return tuple(each(value, cls.from_json))

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "caption": self.caption,
            "media_id": self.media_id,
            "url": self.url,
            "mime_type": self.mime_type,
            "filename": self.filename,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "name": self.name,
            "address": self.address,
            "contact": self.contact.to_json() if self.contact else None,
        }


@dataclass(frozen=True)
class Reaction:
    """The customer reacted to the line with the channel id `message_id`; `emoji` "" removes
    their earlier reaction."""

    message_id: str
    emoji: str = ""

    @classmethod
    def from_json(cls, value: Any) -> Reaction:
        body = obj(value)
        return cls(
            message_id=text(body, "message_id", 240), emoji=optional_text(body, "emoji", 32) or ""
        )

    def to_json(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "emoji": self.emoji}


@dataclass(frozen=True)
class SystemNotice:
    """A channel's system event: the customer's number changed, a message was deleted or edited."""

    kind: str
    text: str

    @classmethod
    def from_json(cls, value: Any) -> SystemNotice:
        body = obj(value)
        return cls(kind=text(body, "kind", 50), text=text(body, "text", 4000))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text}


def _texts(body: Mapping[str, Any], name: str, max_length: int) -> tuple[str, ...]:
    values = body.get(name)
    if values is None:
        return ()
    if not isinstance(values, list) or len(values) > MAX_LIST_ITEMS:
        raise ContractError(name, f"must be a list of at most {MAX_LIST_ITEMS} strings")
    return tuple(text({name: value}, name, max_length) for value in values)


@dataclass(frozen=True)
class Extras:
    """What a user message carries besides its text (its metadata, checked)."""

    attachments: tuple[Attachment, ...] = ()
    reaction: Reaction | None = None
    system_notice: SystemNotice | None = None
    external: bool = False  # an intent triggered through Rasa's API, not the customer

    @property
    def shown(self) -> bool:
        """Whether there is something for the transcript besides text."""
        return bool(self.attachments or self.reaction or self.system_notice)

    @classmethod
    def of(cls, metadata: Any) -> Extras:
        if not isinstance(metadata, Mapping):
            return cls()
        return cls(
            attachments=_part(Attachment.list_from_json, metadata, "attachments"),
            reaction=_part(Reaction.from_json, metadata, "reaction"),
            system_notice=_part(SystemNotice.from_json, metadata, "system_notice"),
            external=bool(metadata.get("is_external")),
        )


def _part(parse: Any, metadata: Mapping[str, Any], name: str) -> Any:
    if metadata.get(name) is None:
        return None if name != "attachments" else ()
    try:
        return parse(metadata[name])
    except ContractError as error:
        raise error.within(f"metadata.{name}") from None


def merge_frustration(*values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The highest score and the union of signals (in first-seen order) of several readings."""
    readings = [value for value in values if value]
    if not readings:
        return None
    signals: dict[str, None] = {}
    for reading in readings:
        signals.update(dict.fromkeys(reading.get("signals") or ()))
    return {
        "score": max(float(reading.get("score") or 0.0) for reading in readings),
        "signals": list(signals),
    }


def _timestamp(event: Event) -> str | None:
    value = event.get("timestamp")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_time(value)
    return value if isinstance(value, str) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def transcript_line(event: Event) -> Line | None:
    """The line a `user` or `bot` event is, or None (other events, an intent triggered through
    Rasa's API, a message with nothing to show). Raises `ContractError` when the metadata the
    connectors add does not fit its shape."""
    kind = event.get("event")
    if kind == "user":
        return _customer_line(event)
    if kind == "bot":
        return _bot_line(event)
    return None


def _customer_line(event: Event) -> Line | None:
    parse_data = _mapping(event.get("parse_data"))
    extras = Extras.of(event.get("metadata") or parse_data.get("metadata"))
    said = event.get("text") or ""
    if extras.external or not (
        said or extras.attachments or extras.reaction or extras.system_notice
    ):
        return None
    line: Line = {
        "author_type": CUSTOMER,
        "text": said,
        "timestamp": _timestamp(event),
        "message_id": event.get("message_id"),
        "channel": channel_name(event.get("input_channel")),
    }
    if extras.system_notice is not None:
        return {
            **line,
            "author_type": SYSTEM,
            "text": said or extras.system_notice.text,
            "system_notice": extras.system_notice.to_json(),
        }
    return {
        **line,
        "intent": _mapping(parse_data.get("intent")).get("name"),
        "frustration": merge_frustration(parse_data.get("frustration")),
        "entities": parse_data.get("entities") or [],
        "payload": isinstance(said, str) and said.startswith("/"),
        "attachments": [attachment.to_json() for attachment in extras.attachments],
        "reaction": extras.reaction.to_json() if extras.reaction else None,
    }


def _bot_line(event: Event) -> Line | None:
    said = event.get("text")
    if not said:
        return None
    metadata = _mapping(event.get("metadata"))
    author = metadata.get("author_type")
    line: Line = {
        "author_type": author if author in BOT_EVENT_AUTHORS else BOT,
        "text": said,
        "buttons": _mapping(event.get("data")).get("buttons") or [],
        "timestamp": _timestamp(event),
    }
    for name in ("author_name", "handoff_message_id"):
        if metadata.get(name):
            line[name] = metadata[name]
    return line


def frustration_reading(event: Event) -> dict[str, Any] | None:
    """The escalation policy's reading of the latest customer message (slot `frustration`)."""
    if event.get("event") == "slot" and event.get("name") == "frustration":
        value = event.get("value")
        return dict(value) if isinstance(value, Mapping) else None
    return None


def build_transcript(events: Iterable[Event]) -> list[Line]:
    """Customer and bot/agent lines in event order, across every session in `events`.

    A `frustration` slot set after a user message (and before the next one) is the escalation
    policy's conversation-level reading of that message: it is merged into the message's line.
    """
    lines: list[Line] = []
    last_customer: Line | None = None
    for event in events:
        reading = frustration_reading(event)
        if reading is not None and last_customer is not None:
            last_customer["frustration"] = merge_frustration(last_customer["frustration"], reading)
            continue
        try:
            line = transcript_line(event)
        except ContractError as error:  # the handoff service sets its own copy aside
            logger.warning("A %s event left out of the transcript: %s", event.get("event"), error)
            line = None
        if event.get("event") == "user":
            last_customer = line if line and line["author_type"] == CUSTOMER else None
        if line is not None:
            lines.append(line)
    return lines


def content_key(kind: str, at: datetime, said: str) -> str:
    stamp = at.isoformat(timespec="milliseconds")
    return f"{kind}:" + hashlib.sha256(f"{stamp}\n{said}".encode()).hexdigest()[:40]


def handoff_key(handoff_message_id: str) -> str:
    """The key of a line the handoff service created (agent reply, system line) and delivered."""
    return f"handoff:{handoff_message_id}"


def dedupe_key(
    author_type: str,
    at: datetime,
    said: str,
    message_id: str | None = None,
    handoff_message_id: str | None = None,
) -> str:
    """A line's key in its conversation: the channel's message id for what came from the
    customer's side, the handoff service's id for what it sent, else a hash of time and text."""
    if message_id:
        return f"user:{message_id}"
    if handoff_message_id:
        return handoff_key(handoff_message_id)
    return content_key("user" if author_type == CUSTOMER else "bot", at, said)
