"""Pure parsing of WhatsApp Cloud API webhook payloads (`object: whatsapp_business_account`).

A payload holds entries, each with changes; a `messages` change carries inbound `messages` (with
the sender's profile in `contacts`) and/or `statuses` of messages we sent. Every entry, change,
message and status of a batch is returned; items without the ids we need are skipped. Messages
without text of their own (media without caption, locations, contacts, reactions, deletions,
system notices, Flow answers) become intent messages with their content in the metadata
(`connectors.common.attachments`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from connectors.common.attachments import (
    CHANNEL_NOTICE,
    FORM_SUBMITTED,
    REACTED,
    attachment,
    attachment_message,
    contact_card,
    intent_message,
    reaction,
    system_notice,
)

CHANNEL = "whatsapp"
WEBHOOK_OBJECT = "whatsapp_business_account"
# WhatsApp's media message types and the attachment kind each one is (audio with `voice`: voice).
MEDIA_KINDS = {
    "image": "image",
    "document": "file",
    "audio": "audio",
    "video": "video",
    "sticker": "sticker",
}
NUMBER_CHANGE_TYPES = frozenset({"user_changed_number", "customer_changed_number"})
IDENTITY_CHANGE_TYPES = frozenset({"user_identity_changed", "customer_identity_changed"})

_LATEST_SECONDS = 10.0**11  # about the year 5138: anything later is no real time


class Handling(Enum):
    """What the connector does with an inbound message."""

    BOT = "bot"  # handed to Rasa
    UNSUPPORTED = "unsupported"  # the customer is asked to type instead


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
    # attachments, reaction, system_notice, reply, context, form_response, edit_of, ...
    details: dict[str, Any] = field(default_factory=dict)
    new_wa_id: str | None = None  # a number change: the customer's new number

    def rasa_metadata(self) -> dict[str, Any]:
        """Metadata passed to Rasa with the user message."""
        return {
            "channel": CHANNEL,
            "wa_id": self.wa_id,
            "profile_name": self.profile_name,
            "customer_name": self.profile_name,
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


WhatsAppEvent = InboundMessage | StatusUpdate


@dataclass(frozen=True)
class WebhookBatch:
    messages: list[InboundMessage]
    statuses: list[StatusUpdate]

    def events(self) -> list[WhatsAppEvent]:
        """Statuses first (they are about lines already sent), then messages, in Meta's order."""
        return [*self.statuses, *self.messages]


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
    system = _dict(raw.get("system")) if kind == "system" else {}
    new_wa_id = system.get("new_wa_id") or system.get("wa_id")
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
        new_wa_id=str(new_wa_id)
        if system.get("type") in NUMBER_CHANGE_TYPES and new_wa_id
        else None,
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


Content = tuple[str, Handling, dict[str, Any]]


def _content(kind: str, raw: dict[str, Any]) -> Content:
    """The text Rasa sees, how to handle the message, and the details kept in metadata."""
    body = _dict(raw.get(kind))
    if kind == "text" and isinstance(body.get("body"), str):
        return body["body"], Handling.BOT, {}
    if kind == "interactive":
        return _interactive(body)
    if kind == "button" and (body.get("payload") or body.get("text")):
        # a quick-reply button of a template message
        payload = str(body.get("payload") or body.get("text"))
        return payload, Handling.BOT, {"reply": {"id": payload, "title": body.get("text")}}
    if kind in MEDIA_KINDS and body.get("id"):
        return _media(kind, body)
    if kind == "location" and "latitude" in body and "longitude" in body:
        place = attachment(
            "location",
            **{k: body.get(k) for k in ("latitude", "longitude", "name", "address", "url")},
        )
        return _attachments([place])
    if kind == "contacts" and isinstance(raw.get("contacts"), list):
        return _attachments([_shared_contact(_dict(c)) for c in raw["contacts"]])
    if kind == "reaction" and isinstance(body.get("message_id"), str):
        return (
            intent_message(REACTED),
            Handling.BOT,
            {"reaction": reaction(body["message_id"], _str(body.get("emoji")))},
        )
    if kind == "revoke":
        return _notice("message_deleted", "The customer deleted a message.", body)
    if kind == "edit" and isinstance(body.get("message"), dict):
        edited = _dict(body.get("message"))
        text, handling, details = _content(str(edited.get("type")), edited)
        notice = system_notice("message_edited", "The customer edited a message.")
        return (
            text,
            handling,
            {
                **details,
                "system_notice": notice,
                "edit_of": body.get("original_message_id"),
            },
        )
    if kind == "system":
        return _system(body)
    return "", Handling.UNSUPPORTED, {}


def _interactive(body: dict[str, Any]) -> Content:
    reply_type = body.get("type")
    reply = _dict(body.get(reply_type)) if isinstance(reply_type, str) else {}
    if reply_type == "nfm_reply":  # a WhatsApp Flow's answers
        try:
            answers = json.loads(str(reply.get("response_json") or "{}"))
        except ValueError:
            answers = None
        if isinstance(answers, dict):
            form = {"name": reply.get("name"), "answers": answers}
            return intent_message(FORM_SUBMITTED), Handling.BOT, {"form_response": form}
    if reply.get("id"):
        details = {"reply": {k: reply[k] for k in ("id", "title", "description") if k in reply}}
        return str(reply["id"]), Handling.BOT, details
    return "", Handling.UNSUPPORTED, {}


def _media(kind: str, body: dict[str, Any]) -> Content:
    media_kind = "voice" if kind == "audio" and body.get("voice") else MEDIA_KINDS[kind]
    caption = _str(body.get("caption"))
    item = attachment(
        media_kind,
        caption=caption,
        media_id=str(body["id"]),
        mime_type=body.get("mime_type"),
        filename=body.get("filename"),
    )
    if caption:  # the customer wrote something: that is what the bot reads
        return caption, Handling.BOT, {"attachments": [item]}
    return _attachments([item])


def _attachments(items: list[dict[str, Any]]) -> Content:
    return attachment_message(items), Handling.BOT, {"attachments": items}


def _notice(kind: str, text: str, body: dict[str, Any]) -> Content:
    details: dict[str, Any] = {"system_notice": system_notice(kind, text)}
    if body.get("original_message_id"):
        details["original_message_id"] = body["original_message_id"]
    return intent_message(CHANNEL_NOTICE), Handling.BOT, details


def _system(body: dict[str, Any]) -> Content:
    system_type = body.get("type")
    text = _str(body.get("body"))
    if system_type in NUMBER_CHANGE_TYPES:
        return _notice("number_changed", text or "The customer changed their number.", {})
    if system_type in IDENTITY_CHANGE_TYPES:
        return _notice(
            "identity_changed",
            text or "The customer's WhatsApp identity changed (new phone or reinstall).",
            {},
        )
    return "", Handling.UNSUPPORTED, {}


def _shared_contact(contact: dict[str, Any]) -> dict[str, Any]:
    name = _dict(contact.get("name")).get("formatted_name")
    phones = [_dict(p).get("phone") or _dict(p).get("wa_id") for p in _list(contact.get("phones"))]
    emails = [_dict(e).get("email") for e in _list(contact.get("emails"))]
    card = contact_card(_str(name), [str(p) for p in phones if p], [str(e) for e in emails if e])
    return attachment("contact", name=card["name"], contact=card)


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
    """Seconds since the epoch; 0.0 (the receiver's clock is used) when missing, not a finite
    number (e.g. "1e400"), before 1970 or too far ahead for a date (as Messenger's parser)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 0.0
    return seconds if math.isfinite(seconds) and 0 <= seconds < _LATEST_SECONDS else 0.0


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
