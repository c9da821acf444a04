"""Pure functions from Messenger Platform webhook bodies to the events this connector acts on.

A webhook body is ``{"object": "page", "entry": [{"id", "time", "messaging": [event, ...]}]}``;
Meta batches several entries and several events per entry. Entries that carry ``standby``
instead of ``messaging`` belong to another app of the handover protocol and are not ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

CHANNEL = "messenger"
MEDIA_TYPES = frozenset({"image", "video", "audio", "file"})


class MalformedWebhook(ValueError):
    """The body is JSON but not a Messenger page webhook."""


@dataclass(frozen=True)
class CustomerMessage:
    """Something the customer said: typed text, a tapped quick reply or button, attachments."""

    psid: str
    page_id: str
    mid: str
    text: str = field(repr=False)  # never in logs: customers type personal data
    timestamp_ms: int | None
    kind: Literal["text", "quick_reply", "postback", "attachments"]
    display_text: str | None = field(default=None, repr=False)
    attachments: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def metadata(self) -> dict[str, Any]:
        """What Rasa stores with the user event (and the handoff transcript shows)."""
        metadata: dict[str, Any] = {
            "channel": CHANNEL,
            "psid": self.psid,
            "page_id": self.page_id,
            "mid": self.mid,
            "message_id": self.mid,
            "timestamp": self.timestamp_ms,
            "event": self.kind,
            "attachments": [dict(a) for a in self.attachments],
        }
        if self.display_text is not None:
            metadata["display_text"] = self.display_text
        location = next(
            (a for a in self.attachments if a["type"] == "location" and "latitude" in a), None
        )
        if location is not None:
            metadata["location"] = {
                "latitude": location["latitude"],
                "longitude": location["longitude"],
            }
        return metadata


@dataclass(frozen=True)
class Receipt:
    """The customer's Messenger received (``delivered``) or read our messages up to a time."""

    psid: str
    status: Literal["delivered", "read"]
    watermark_ms: int
    mids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Echo:
    """A message the page itself sent (through us, another app or the Page inbox)."""

    psid: str
    mid: str
    metadata: str | None


MessengerEvent = CustomerMessage | Receipt | Echo


def parse_webhook(payload: Any) -> list[MessengerEvent]:
    """Every event of every entry that this connector handles, in the order Meta sent them.

    Raises MalformedWebhook when the envelope is wrong; single events of kinds we do not handle
    (reactions, referrals, opt-ins, edits) or that lack required fields are left out.
    """
    if not isinstance(payload, dict) or payload.get("object") != "page":
        raise MalformedWebhook('expected a JSON object with "object": "page"')
    entries = payload.get("entry")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise MalformedWebhook('expected "entry" to be a list of objects')
    events: list[MessengerEvent] = []
    for entry in entries:
        messaging = entry.get("messaging") or []
        if not isinstance(messaging, list):
            raise MalformedWebhook('expected "messaging" to be a list')
        page_id = str(entry.get("id") or "")
        events.extend(
            parsed
            for raw in messaging
            if isinstance(raw, dict) and (parsed := parse_event(raw, page_id)) is not None
        )
    return events


def parse_event(event: dict[str, Any], page_id: str = "") -> MessengerEvent | None:
    """One ``messaging`` item, or None for kinds this connector does not handle."""
    sender = _id(event.get("sender"))
    recipient = _id(event.get("recipient"))
    message = event.get("message")
    if isinstance(message, dict):
        if message.get("is_echo"):
            return _echo(recipient, message)
        return _message(sender, recipient or page_id, event, message)
    postback = event.get("postback")
    if isinstance(postback, dict):
        return _postback(sender, recipient or page_id, event, postback)
    for status, key in (("delivered", "delivery"), ("read", "read")):
        receipt = event.get(key)
        if isinstance(receipt, dict) and sender:
            watermark = _int(receipt.get("watermark"))
            if watermark is None:
                return None
            mids = tuple(str(m) for m in _list(receipt.get("mids")))
            return Receipt(sender, status, watermark, mids)
    return None


def parse_attachment(raw: dict[str, Any]) -> dict[str, Any]:
    """A JSON-safe summary: ``type`` plus ``url``/``title`` or, for a location, coordinates.

    Fallback attachments (shared links) carry url and title in ``payload`` or, in older
    payloads, next to it with ``"payload": null``; unsupported shares may carry neither.
    """
    payload = raw.get("payload") if isinstance(raw.get("payload"), dict) else {}
    summary: dict[str, Any] = {"type": str(raw.get("type") or "unknown")}
    coordinates = payload.get("coordinates")
    if isinstance(coordinates, dict):
        summary["latitude"] = coordinates.get("lat")
        summary["longitude"] = coordinates.get("long")
    for key in ("url", "title", "sticker_id"):
        value = payload.get(key) or raw.get(key)
        if value is not None:
            summary[key] = value
    return summary


def _message(
    psid: str | None, page_id: str, event: dict[str, Any], message: dict[str, Any]
) -> CustomerMessage | None:
    mid = message.get("mid")
    if not psid or not mid:
        return None
    attachments = tuple(
        parse_attachment(a) for a in _list(message.get("attachments")) if isinstance(a, dict)
    )
    text = _str(message.get("text"))
    quick_reply = message.get("quick_reply")
    if isinstance(quick_reply, dict) and quick_reply.get("payload"):
        return CustomerMessage(
            psid,
            page_id,
            str(mid),
            str(quick_reply["payload"]),
            _timestamp(event),
            "quick_reply",
            display_text=text,
            attachments=attachments,
        )
    if text is None and not attachments:
        return None
    kind = "text" if text is not None else "attachments"
    return CustomerMessage(
        psid, page_id, str(mid), text or "", _timestamp(event), kind, attachments=attachments
    )


def _postback(
    psid: str | None, page_id: str, event: dict[str, Any], postback: dict[str, Any]
) -> CustomerMessage | None:
    payload = postback.get("payload")
    if not psid or not payload:
        return None
    timestamp = _timestamp(event)
    mid = postback.get("mid")
    if not mid:
        if timestamp is None:
            return None
        # Older postbacks carry no mid; sender and time still identify Meta's retries.
        mid = f"postback:{psid}:{timestamp}"
    return CustomerMessage(
        psid,
        page_id,
        str(mid),
        str(payload),
        timestamp,
        "postback",
        display_text=_str(postback.get("title")),
    )


def _echo(psid: str | None, message: dict[str, Any]) -> Echo | None:
    mid = message.get("mid")
    if not psid or not mid:
        return None
    return Echo(psid, str(mid), _str(message.get("metadata")))


def _id(party: Any) -> str | None:
    if isinstance(party, dict) and party.get("id"):
        return str(party["id"])
    return None


def _timestamp(event: dict[str, Any]) -> int | None:
    """Milliseconds since the epoch (some samples give seconds, as a string); None if absent."""
    value = _int(event.get("timestamp"))
    if not value or value < 0:
        return None
    return value * 1000 if value < 10**11 else value


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: 1e400 is infinity
        return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
