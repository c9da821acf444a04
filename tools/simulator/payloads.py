"""Builders of real webhook bodies, as Meta sends them (shapes of tests/fixtures/<channel>/).

Each message gets a fresh message id and the current time unless `message_id` / `at` are given,
so the connectors' idempotency never mistakes a new simulated message for a retry.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from typing import Any

DEFAULT_PHONE_NUMBER_ID = "100200300400500"  # what `make run` uses when none is configured
DEFAULT_PAGE_ID = "106540352242922"


@dataclass(frozen=True)
class WhatsAppCustomer:
    """Who writes, and to which business number."""

    wa_id: str = "447700900123"
    name: str | None = "Ana"
    phone_number_id: str = DEFAULT_PHONE_NUMBER_ID
    display_phone_number: str = "15550783881"
    business_account_id: str = "102290129340398"


@dataclass(frozen=True)
class MessengerCustomer:
    """A person (page-scoped id) writing to a Facebook Page."""

    psid: str = "6543210987654321"
    page_id: str = DEFAULT_PAGE_ID


def new_whatsapp_message_id() -> str:
    return "wamid." + base64.b64encode(secrets.token_bytes(30)).decode()


def new_messenger_message_id() -> str:
    return "m_" + secrets.token_urlsafe(64)


# --- WhatsApp Cloud API (`object: whatsapp_business_account`) -----------------------------------


def whatsapp_text(
    customer: WhatsAppCustomer, text: str, message_id: str | None = None, at: float | None = None
) -> dict[str, Any]:
    return _whatsapp_message(customer, "text", {"body": text}, message_id, at)


def whatsapp_button_reply(
    customer: WhatsAppCustomer,
    reply_id: str,
    title: str,
    message_id: str | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    """The customer tapped a reply button of an interactive message."""
    reply = {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}}
    return _whatsapp_message(customer, "interactive", reply, message_id, at)


def whatsapp_template_button(
    customer: WhatsAppCustomer,
    payload: str,
    title: str,
    message_id: str | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    """The customer tapped a quick-reply button of a template message: its payload and title."""
    return _whatsapp_message(
        customer, "button", {"payload": payload, "text": title}, message_id, at
    )


def whatsapp_list_reply(
    customer: WhatsAppCustomer,
    row_id: str,
    title: str,
    description: str | None = None,
    message_id: str | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    """The customer picked a row of an interactive list message."""
    row = {"id": row_id, "title": title}
    if description:
        row["description"] = description
    reply = {"type": "list_reply", "list_reply": row}
    return _whatsapp_message(customer, "interactive", reply, message_id, at)


def whatsapp_image(
    customer: WhatsAppCustomer,
    media_id: str,
    caption: str | None = None,
    mime_type: str = "image/jpeg",
    message_id: str | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    digest = base64.b64encode(secrets.token_bytes(32)).decode()
    image = {"mime_type": mime_type, "sha256": digest, "id": media_id}
    if caption:
        image["caption"] = caption
    return _whatsapp_message(customer, "image", image, message_id, at)


def whatsapp_location(
    customer: WhatsAppCustomer,
    latitude: float,
    longitude: float,
    name: str | None = None,
    address: str | None = None,
    message_id: str | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    location.update({k: v for k, v in (("name", name), ("address", address)) if v})
    return _whatsapp_message(customer, "location", location, message_id, at)


def whatsapp_status(
    customer: WhatsAppCustomer,
    message_id: str,
    status: str = "delivered",
    at: float | None = None,
) -> dict[str, Any]:
    """Meta's report on a message the business sent: sent, delivered, read or failed."""
    update: dict[str, Any] = {
        "id": message_id,
        "status": status,
        "timestamp": _seconds(at),
        "recipient_id": customer.wa_id,
    }
    if status in ("sent", "delivered"):
        update["conversation"] = {"id": secrets.token_hex(16), "origin": {"type": "service"}}
        update["pricing"] = {
            "billable": False,
            "pricing_model": "PMP",
            "category": "service",
            "type": "free_customer_service",
        }
    elif status == "failed":
        update["errors"] = [
            {
                "code": 131026,
                "title": "Message undeliverable",
                "message": "Message undeliverable",
                "error_data": {"details": "Unable to deliver message to this recipient."},
            }
        ]
    return _whatsapp_envelope(customer, {"statuses": [update]})


def _whatsapp_message(
    customer: WhatsAppCustomer,
    kind: str,
    content: dict[str, Any],
    message_id: str | None,
    at: float | None,
) -> dict[str, Any]:
    message = {
        "from": customer.wa_id,
        "id": message_id or new_whatsapp_message_id(),
        "timestamp": _seconds(at),
        "type": kind,
        kind: content,
    }
    contact: dict[str, Any] = {"wa_id": customer.wa_id}
    if customer.name:
        contact["profile"] = {"name": customer.name}
    return _whatsapp_envelope(customer, {"contacts": [contact], "messages": [message]})


def _whatsapp_envelope(customer: WhatsAppCustomer, value: dict[str, Any]) -> dict[str, Any]:
    metadata = {
        "display_phone_number": customer.display_phone_number,
        "phone_number_id": customer.phone_number_id,
    }
    change = {"value": {"messaging_product": "whatsapp", "metadata": metadata, **value}}
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": customer.business_account_id, "changes": [{**change, "field": "messages"}]}
        ],
    }


# --- Messenger Platform (`object: page`) ---------------------------------------------------------


def messenger_text(
    customer: MessengerCustomer, text: str, message_id: str | None = None, at: float | None = None
) -> dict[str, Any]:
    return _messenger_event(customer, "message", {"text": text}, message_id, at)


def messenger_quick_reply(
    customer: MessengerCustomer,
    payload: str,
    title: str,
    message_id: str | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    """The customer tapped a quick reply: its title comes as text, its payload next to it."""
    message = {"text": title, "quick_reply": {"payload": payload}}
    return _messenger_event(customer, "message", message, message_id, at)


def messenger_postback(
    customer: MessengerCustomer,
    payload: str,
    title: str,
    message_id: str | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    """The customer tapped a postback button (e.g. of a template or the persistent menu)."""
    postback = {"title": title, "payload": payload}
    return _messenger_event(customer, "postback", postback, message_id, at)


def messenger_attachment(
    customer: MessengerCustomer,
    kind: str,
    url: str,
    message_id: str | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    """An image, video, audio or file the customer sent (Meta hosts it at `url`)."""
    message = {"attachments": [{"type": kind, "payload": {"url": url}}]}
    return _messenger_event(customer, "message", message, message_id, at)


def _messenger_event(
    customer: MessengerCustomer,
    key: str,
    content: dict[str, Any],
    message_id: str | None,
    at: float | None,
) -> dict[str, Any]:
    millis = _millis(at)
    event = {
        "sender": {"id": customer.psid},
        "recipient": {"id": customer.page_id},
        "timestamp": millis,
        key: {"mid": message_id or new_messenger_message_id(), **content},
    }
    return {
        "object": "page",
        "entry": [{"id": customer.page_id, "time": millis, "messaging": [event]}],
    }


def _seconds(at: float | None) -> str:
    """WhatsApp timestamps: whole seconds, as a string."""
    return str(int(time.time() if at is None else at))


def _millis(at: float | None) -> int:
    """Messenger timestamps: milliseconds, as a number."""
    return int((time.time() if at is None else at) * 1000)
