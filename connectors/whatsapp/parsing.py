"""Pure parsing of WhatsApp Cloud API webhook payloads (`object: whatsapp_business_account`).

A payload holds entries, each with changes; a `messages` change carries inbound `messages` (with
the sender's profile in `contacts`) and/or `statuses` of messages we sent. Every entry, change,
message and status of a batch is returned; items without the ids we need are skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

CHANNEL = "whatsapp"
MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")


class Handling(Enum):
    """What the connector does with an inbound message."""

    BOT = "bot"  # handed to Rasa
    UNSUPPORTED = "unsupported"  # the customer is asked to type instead
    IGNORED = "ignored"  # e.g. reactions: nothing to answer


@dataclass(frozen=True)
class InboundMessage:
    message_id: str
    wa_id: str
    kind: str
    text: str
    timestamp: float
    handling: Handling
    profile_name: str | None = None
    phone_number_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)  # media, location, reply, context, ...

    def rasa_metadata(self) -> dict[str, Any]:
        """Metadata passed to Rasa with the user message."""
        return {
            "channel": CHANNEL,
            "wa_id": self.wa_id,
            "profile_name": self.profile_name,
            "message_id": self.message_id,
            "timestamp": self.timestamp,
            "phone_number_id": self.phone_number_id,
            "type": self.kind,
            **self.details,
        }


@dataclass(frozen=True)
class StatusUpdate:
    message_id: str
    status: str  # sent | delivered | read | failed
    recipient_id: str | None
    timestamp: float
    error_code: int | None = None
    error_title: str | None = None


@dataclass(frozen=True)
class WebhookBatch:
    messages: list[InboundMessage]
    statuses: list[StatusUpdate]


def parse_webhook(payload: dict[str, Any]) -> WebhookBatch:
    messages: list[InboundMessage] = []
    statuses: list[StatusUpdate] = []
    for value in _message_values(payload):
        profiles = _profiles(value.get("contacts"))
        phone_number_id = _dict(value.get("metadata")).get("phone_number_id")
        for raw in _list(value.get("messages")):
            message = parse_message(_dict(raw), profiles, phone_number_id)
            if message is not None:
                messages.append(message)
        for raw in _list(value.get("statuses")):
            status = parse_status(_dict(raw))
            if status is not None:
                statuses.append(status)
    return WebhookBatch(messages, statuses)


def parse_message(
    raw: dict[str, Any], profiles: dict[str, str], phone_number_id: str | None = None
) -> InboundMessage | None:
    message_id, wa_id = raw.get("id"), raw.get("from")
    if not isinstance(message_id, str) or not isinstance(wa_id, str) or not message_id:
        return None
    kind = str(raw.get("type", "unsupported"))
    text, handling, details = _content(kind, raw)
    context = _dict(raw.get("context"))
    if context.get("id"):
        details["context"] = {"message_id": context["id"], "from": context.get("from")}
    return InboundMessage(
        message_id=message_id,
        wa_id=wa_id,
        kind=kind,
        text=text,
        timestamp=_timestamp(raw.get("timestamp")),
        handling=handling,
        profile_name=profiles.get(wa_id),
        phone_number_id=phone_number_id,
        details=details,
    )


def parse_status(raw: dict[str, Any]) -> StatusUpdate | None:
    message_id, status = raw.get("id"), raw.get("status")
    if not isinstance(message_id, str) or not isinstance(status, str):
        return None
    error = _dict(next(iter(_list(raw.get("errors"))), None))
    code = error.get("code")
    return StatusUpdate(
        message_id=message_id,
        status=status,
        recipient_id=raw.get("recipient_id"),
        timestamp=_timestamp(raw.get("timestamp")),
        error_code=code if isinstance(code, int) else None,
        error_title=error.get("title") or error.get("message"),
    )


def _content(kind: str, raw: dict[str, Any]) -> tuple[str, Handling, dict[str, Any]]:
    """The text Rasa sees, how to handle the message, and the details kept in metadata."""
    body = _dict(raw.get(kind))
    if kind == "text" and isinstance(body.get("body"), str):
        return body["body"], Handling.BOT, {}
    if kind == "interactive":
        reply_type = body.get("type")
        reply = _dict(body.get(reply_type)) if isinstance(reply_type, str) else {}
        if reply.get("id"):
            details = {"reply": {k: reply[k] for k in ("id", "title", "description") if k in reply}}
            return str(reply["id"]), Handling.BOT, details
    if kind == "button" and (body.get("payload") or body.get("text")):
        # a quick-reply button of a template message
        payload = str(body.get("payload") or body.get("text"))
        return payload, Handling.BOT, {"reply": {"id": payload, "title": body.get("text")}}
    if kind in MEDIA_TYPES and body.get("id"):
        media = {
            "id": body["id"],
            "mime_type": body.get("mime_type"),
            "caption": body.get("caption"),
        }
        if body.get("filename"):
            media["filename"] = body["filename"]
        caption = body.get("caption")
        text = caption if isinstance(caption, str) and caption else f"[{kind}]"
        return text, Handling.BOT, {"media": {"type": kind, **media}}
    if kind == "location" and "latitude" in body and "longitude" in body:
        location = {k: body.get(k) for k in ("latitude", "longitude", "name", "address")}
        label = ", ".join(str(v) for v in (body.get("name"), body.get("address")) if v)
        return (
            f"[location: {label}]" if label else "[location]",
            Handling.BOT,
            {"location": location},
        )
    if kind == "contacts" and isinstance(raw.get("contacts"), list):
        shared = [_shared_contact(_dict(c)) for c in raw["contacts"]]
        names = ", ".join(c["name"] for c in shared if c["name"])
        return f"[contacts: {names}]" if names else "[contacts]", Handling.BOT, {"contacts": shared}
    if kind == "reaction":
        return "", Handling.IGNORED, {"reaction": body}
    return "", Handling.UNSUPPORTED, {}


def _shared_contact(contact: dict[str, Any]) -> dict[str, Any]:
    phones = [_dict(p) for p in _list(contact.get("phones"))]
    return {
        "name": _dict(contact.get("name")).get("formatted_name"),
        "phones": [{"phone": p.get("phone"), "wa_id": p.get("wa_id")} for p in phones],
    }


def _message_values(payload: dict[str, Any]) -> list[dict[str, Any]]:
    values = []
    for entry in _list(payload.get("entry")):
        for change in _list(_dict(entry).get("changes")):
            change = _dict(change)
            if change.get("field", "messages") == "messages":
                values.append(_dict(change.get("value")))
    return values


def _profiles(contacts: Any) -> dict[str, str]:
    profiles = {}
    for contact in _list(contacts):
        contact = _dict(contact)
        name = _dict(contact.get("profile")).get("name")
        if isinstance(contact.get("wa_id"), str) and isinstance(name, str):
            profiles[contact["wa_id"]] = name
    return profiles


def _timestamp(value: Any) -> float:
    """Seconds since the epoch; 0.0 when missing or not a finite number (e.g. "1e400")."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 0.0
    return seconds if math.isfinite(seconds) else 0.0


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
