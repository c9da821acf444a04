"""One conversation as Rasa's tracker and event broker hold it (`Event.as_dict()` shapes): typed
and button messages, an attachment-only message, a location, a contact card, a reaction, a
channel notice, the policy's frustration reading, an agent's delivered line, a bot image without
text and the intent that return to bot triggers. Written for these tests."""

from __future__ import annotations

from typing import Any

T0 = 1_795_000_000.25
SENDER = "16505550123"


def user(text: str, at: float, message_id: str, **metadata: Any) -> dict[str, Any]:
    return {
        "event": "user",
        "timestamp": T0 + at,
        "text": text,
        "parse_data": {
            "intent": {"name": "inform" if text else "attachment", "confidence": 0.9},
            "entities": [],
            "text": text,
            "frustration": {"score": 0.1, "signals": []},
        },
        "input_channel": "whatsapp",
        "message_id": message_id,
        "metadata": metadata,
    }


def bot(text: str | None, at: float, **metadata: Any) -> dict[str, Any]:
    return {"event": "bot", "timestamp": T0 + at, "text": text, "data": {}, "metadata": metadata}


PHOTO = {"kind": "image", "media_id": "media-1", "mime_type": "image/jpeg", "caption": None}
PIN = {"kind": "location", "latitude": 52.52, "longitude": 13.405, "name": "Home"}
CARD = {
    "kind": "contact",
    "contact": {"name": "Sam Okafor", "phones": ["+4915112345678"], "emails": []},
}


def conversation() -> list[dict[str, Any]]:
    return [
        {"event": "action", "timestamp": T0, "name": "action_session_start"},
        {"event": "session_started", "timestamp": T0},
        user("my lock is broken, card 4111 1111 1111 1111", 1, "wamid.1"),
        {
            "event": "slot",
            "timestamp": T0 + 1.5,
            "name": "frustration",
            "value": {"score": 0.7, "signals": ["repeated_contact"]},
        },
        bot("Sorry to hear that. Can you send a photo?", 2),
        user("", 3, "wamid.2", attachments=[{**PHOTO, "caption": "the lock, see?"}]),
        user("", 4, "wamid.3", attachments=[PHOTO]),
        user("", 5, "wamid.4", attachments=[PIN, CARD]),
        bot(None, 6),  # an image the bot sent, without text: no line
        bot("Hi, Dana here.", 7, author_type="agent", author_name="Dana", handoff_message_id="h-1"),
        user("", 8, "wamid.5", reaction={"message_id": "wamid.out.1", "emoji": "👍"}),
        user("", 9, "wamid.6", system_notice={"kind": "deleted", "text": "Message deleted."}),
        user("EXTERNAL: handoff_ended", 10, "ext-1", is_external=True),
        user("/affirm", 11, "wamid.7"),
    ]
