"""Pure functions from Messenger Platform webhook bodies to the events this connector acts on.

A webhook body is ``{"object": "page", "entry": [{"id", "time", "messaging": [event, ...]}]}``;
Meta batches several entries and several events per entry. Entries that carry ``standby``
instead of ``messaging`` belong to another app of the handover protocol and are not ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from connectors.common.attachments import (
    REACTED,
    attachment,
    attachment_message,
    intent_message,
    reaction,
)
from connectors.common.meta_webhook import MalformedWebhook

CHANNEL = "messenger"
WEBHOOK_OBJECT = "page"
MEDIA_TYPES = frozenset({"image", "video", "audio", "file"})


@dataclass(frozen=True)
class CustomerMessage:
    """Something the customer said: typed text, a tapped quick reply or button, attachments."""

    psid: str
    page_id: str
    mid: str
    text: str = field(repr=False)  # never in logs: customers type personal data
    timestamp_ms: int | None
    kind: Literal["text", "quick_reply", "postback", "attachments", "reaction"]
    display_text: str | None = field(default=None, repr=False)
    attachments: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    reaction: dict[str, str] | None = None

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
        if self.reaction is not None:
            metadata["reaction"] = dict(self.reaction)
        return metadata

    def media(self) -> list[tuple[str, str]]:
        """(media id, URL) of each attachment the media endpoint can serve."""
        return [(a["media_id"], a["url"]) for a in self.attachments if a["media_id"] and a["url"]]


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
    (referrals, opt-ins, edits) or that lack required fields are left out.
    """
    if not isinstance(payload, dict) or payload.get("object") != WEBHOOK_OBJECT:
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
    reacted = event.get("reaction")
    if isinstance(reacted, dict):
        return _reaction(sender, recipient or page_id, event, reacted)
    receipts: tuple[tuple[Literal["delivered", "read"], str], ...] = (
        ("delivered", "delivery"),
        ("read", "read"),
    )
    for status, key in receipts:
        receipt = event.get(key)
        if isinstance(receipt, dict) and sender:
            watermark = _int(receipt.get("watermark"))
            if watermark is None:
                return None
            mids = tuple(str(m) for m in _list(receipt.get("mids")))
            return Receipt(sender, status, watermark, mids)
    return None


def parse_attachment(raw: dict[str, Any], media_id: str | None = None) -> dict[str, Any]:
    """One attachment in the shared shape (`connectors.common.attachments`).

    Images, videos, audio and files carry a CDN URL (served again by the connector's media
    endpoint under `media_id`); a sticker is an image with a `sticker_id`; shared links
    ("fallback", reels, shares) carry url and title in ``payload`` or, in older payloads, next
    to it with ``"payload": null``.
    """
    found = raw.get("payload")
    payload: dict[str, Any] = found if isinstance(found, dict) else {}
    kind = str(raw.get("type") or "")
    url = _str(payload.get("url")) or _str(raw.get("url"))
    title = _str(payload.get("title")) or _str(raw.get("title"))
    coordinates = payload.get("coordinates")
    if kind == "location" and isinstance(coordinates, dict):
        return attachment(
            "location",
            latitude=coordinates.get("lat"),
            longitude=coordinates.get("long"),
            name=title,
            url=url,
        )
    if kind == "image" and payload.get("sticker_id"):
        return attachment("sticker", url=url, media_id=media_id if url else None)
    if kind in MEDIA_TYPES:
        return attachment(kind, url=url, media_id=media_id if url else None, name=title)
    return attachment("link", url=url, name=title)


def _message(
    psid: str | None, page_id: str, event: dict[str, Any], message: dict[str, Any]
) -> CustomerMessage | None:
    mid = message.get("mid")
    if not psid or not mid:
        return None
    attachments = tuple(
        parse_attachment(a, f"{mid}.{index}")
        for index, a in enumerate(_list(message.get("attachments")))
        if isinstance(a, dict)
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
    if not text and not attachments:
        return None
    if text:
        return CustomerMessage(
            psid, page_id, str(mid), text, _timestamp(event), "text", attachments=attachments
        )
    # Nothing typed: the attachments themselves, never an empty text (the NLU reads it as "yes").
    return CustomerMessage(
        psid,
        page_id,
        str(mid),
        attachment_message(attachments),
        _timestamp(event),
        "attachments",
        attachments=attachments,
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


def _reaction(
    psid: str | None, page_id: str, event: dict[str, Any], reacted: dict[str, Any]
) -> CustomerMessage | None:
    """A reaction to one of our messages, or its removal (``action: unreact``)."""
    mid = reacted.get("mid")
    timestamp = _timestamp(event)
    if not psid or not mid:
        return None
    removed = reacted.get("action") == "unreact"
    emoji = "" if removed else _str(reacted.get("emoji")) or _str(reacted.get("reaction"))
    return CustomerMessage(
        psid,
        page_id,
        f"reaction:{psid}:{mid}:{reacted.get('action')}:{timestamp}",  # Meta gives it no id
        intent_message(REACTED),
        timestamp,
        "reaction",
        reaction=reaction(str(mid), emoji),
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
