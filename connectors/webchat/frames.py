"""The web chat's websocket frames: parsing what the widget sends, building what it receives.

Pure functions over JSON-like values, so the protocol is tested without a server.

Client -> server: ``{"type": "message", "text", "client_id"}``, ``{"type": "payload",
"payload", "title", "client_id"}`` (a button) and ``{"type": "typing", "on"}`` (the customer
types, again every few seconds while they do; ``"on": false`` once they stopped; no ``on`` is
typing).
Server -> client: ``{"type": "message", "id", "author_type", "author_name", "text", "buttons",
"at"}``, ``{"type": "typing", "on"}``, ``{"type": "history", "messages"}`` and
``{"type": "error", "error", "message"}``.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from connectors.common.limits import FRAME_MAX_BYTES
from connectors.common.markers import author_of, mark_bot_text
from connectors.common.safe_json import JsonRejected, parse_json

MAX_TEXT_CHARS = 4000  # the handoff service's limit for a transcript line
HISTORY_LIMIT = 200  # most recent lines sent on connect
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class FrameError(ValueError):
    """A client frame the server refuses; sent back as an ``error`` frame."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


@dataclass(frozen=True)
class CustomerMessage:
    """Typed text or a pressed button. `text` goes to Rasa, `display_text` is what was shown."""

    client_id: str
    text: str
    display_text: str


@dataclass(frozen=True)
class CustomerTyping:
    """The customer types (`on`) or stopped; the agent's console shows it."""

    on: bool = True


def session_id(raw: str | None) -> str | None:
    """The conversation id from ``?session=``: a UUID, so it can never name another channel's
    conversation (WhatsApp and Messenger ids are digits) and cannot be guessed."""
    try:
        return str(uuid.UUID(raw or ""))
    except ValueError:
        return None


def language(raw: str | None) -> str | None:
    """Primary language subtag from ``?lang=`` (the browser's ``navigator.language``)."""
    match = re.match(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*$", raw or "")
    return match.group(1).lower() if match else None


def parse_client_frame(raw: str | bytes) -> CustomerMessage | CustomerTyping:
    try:
        frame = parse_json(raw, max_bytes=FRAME_MAX_BYTES)
    except JsonRejected as error:
        raise FrameError(error.reason, error.message) from None
    if not isinstance(frame, dict):
        raise FrameError("invalid_frame", "A frame must be a JSON object.")
    kind = frame.get("type")
    if kind == "typing":
        on = frame.get("on", True)
        if not isinstance(on, bool):
            raise FrameError("invalid_field", "'on' must be true or false.")
        return CustomerTyping(on)
    if kind == "message":
        text = _text(frame, "text")
        return CustomerMessage(_client_id(frame), text, text)
    if kind == "payload":
        payload = _text(frame, "payload")
        title = frame.get("title")
        shown = title.strip() if isinstance(title, str) and title.strip() else payload
        return CustomerMessage(_client_id(frame), payload, shown[:MAX_TEXT_CHARS])
    raise FrameError("unknown_type", "type must be 'message', 'payload' or 'typing'.")


def _text(frame: dict[str, Any], name: str) -> str:
    value = frame.get(name)
    if not isinstance(value, str) or not value.strip():
        raise FrameError("missing_field", f"'{name}' must be a non-empty string.")
    if len(value) > MAX_TEXT_CHARS:
        raise FrameError("too_long", f"A message can have at most {MAX_TEXT_CHARS} characters.")
    return value.strip()


def _client_id(frame: dict[str, Any]) -> str:
    value = frame.get("client_id")
    if not isinstance(value, str) or not _CLIENT_ID.match(value):
        raise FrameError("invalid_field", "client_id must be 8-64 letters, digits, '-' or '_'.")
    return value


def iso_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")


def message_frame(
    *,
    line_id: str,
    author_type: str,
    author_name: str | None,
    text: str,
    at: float,
    buttons: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    return {
        "type": "message",
        "id": line_id,
        "author_type": author_type,
        "author_name": author_name,
        "text": text,
        "buttons": buttons or [],
        "at": iso_time(at),
    }


def typing_frame(on: bool) -> dict[str, Any]:
    return {"type": "typing", "on": on}


def error_frame(error: FrameError) -> dict[str, Any]:
    return {"type": "error", "error": error.error, "message": error.message}


def buttons_of(message: dict[str, Any]) -> list[dict[str, str]]:
    """Rasa buttons or quick replies as ``{"title", "payload"}`` or ``{"title", "url"}``."""
    raw = message.get("buttons") or message.get("quick_replies") or []
    buttons = []
    for button in raw if isinstance(raw, list) else []:
        title = button.get("title") if isinstance(button, dict) else None
        if not isinstance(title, str) or not title:
            continue
        url, payload = button.get("url"), button.get("payload")
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            buttons.append({"title": title, "url": url})
        elif isinstance(payload, str) and payload:
            buttons.append({"title": title, "payload": payload})
    return buttons


def outgoing_frame(
    message: dict[str, Any], *, line_id: str, at: float, bot_name: str, bot_marker: str | None
) -> dict[str, Any] | None:
    """A frame for one Rasa response (``BotUttered.message()``: text, buttons, metadata merged
    in); None when there is nothing the widget can show."""
    author = author_of(message)
    text = message.get("text") or ""
    if message.get("image"):
        text = f"{text}\n{message['image']}".strip()
    buttons = buttons_of(message)
    if not text and not buttons:
        return None
    return message_frame(
        line_id=line_id,
        author_type=author,
        author_name=bot_name if author == "bot" else message.get("author_name"),
        text=mark_bot_text(text, bot_marker) if author == "bot" else text,
        at=at,
        buttons=buttons,
    )


def history_frame(
    events: Iterable[dict[str, Any]], *, bot_name: str, bot_marker: str | None
) -> dict[str, Any]:
    """The conversation so far from the tracker's events (``Event.as_dict()``), oldest first."""
    messages = []
    for event in events:
        frame = _history_line(event, bot_name, bot_marker)
        if frame is not None:
            messages.append(frame)
    return {"type": "history", "messages": messages[-HISTORY_LIMIT:]}


def _history_line(
    event: dict[str, Any], bot_name: str, bot_marker: str | None
) -> dict[str, Any] | None:
    metadata = event.get("metadata") or {}
    at = float(event.get("timestamp") or 0)
    if event.get("event") == "user":
        if metadata.get("is_external") or not event.get("text"):
            return None  # intents triggered through Rasa's API, not something the customer wrote
        return message_frame(
            line_id=event.get("message_id") or _line_id(event),
            author_type="customer",
            author_name=None,
            text=metadata.get("display_text") or event["text"],
            at=at,
        )
    if event.get("event") == "bot":
        message = {**(event.get("data") or {}), **metadata, "text": event.get("text")}
        return outgoing_frame(
            message,
            line_id=bot_line_id(message, event.get("timestamp")),
            at=at,
            bot_name=bot_name,
            bot_marker=bot_marker,
        )
    return None


def bot_line_id(message: dict[str, Any], timestamp: float | None) -> str:
    """The same id for a bot line whether sent live or loaded from the history."""
    if message.get("handoff_message_id"):
        return str(message["handoff_message_id"])
    return _line_id({"event": "bot", "timestamp": timestamp, "text": message.get("text")})


def _line_id(event: dict[str, Any]) -> str:
    """A stable id for a line that has none of its own (same event, same id on every load)."""
    key = f"{event.get('event')}|{event.get('timestamp')}|{event.get('text')}"
    return "line-" + hashlib.sha256(key.encode()).hexdigest()[:20]
