"""What customers send that is not text, in one shape for every channel (docs/channels.md).

The connectors put it in the Rasa user message's metadata, where the handoff service reads it:

- ``attachments``: a list of `attachment(...)` dicts, every key present (None when missing);
- ``reaction``: ``{"message_id": <the reacted-to channel message id>, "emoji": str}``, ``""``
  when the customer took the reaction back;
- ``system_notice``: ``{"kind": str, "text": str}`` for what the channel itself reports.

A message with no text of its own reaches Rasa as an intent message (`intent_message`), never as
text to classify: empty text is read as "yes" and placeholders such as "[audio]" as if typed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

KINDS = frozenset(
    {"image", "video", "audio", "voice", "file", "sticker", "location", "contact", "link"}
)
FIELDS = (
    "caption",
    "media_id",
    "url",
    "mime_type",
    "filename",
    "latitude",
    "longitude",
    "name",
    "address",
    "contact",
)
# The intents of bot/domain/attachments.yml.
SHARED_ATTACHMENT = "shared_attachment"
REACTED = "reacted"
FORM_SUBMITTED = "form_submitted"
CHANNEL_NOTICE = "channel_notice"
KIND_ENTITY = "attachment_kind"


def attachment(kind: str, **fields: Any) -> dict[str, Any]:
    """One attachment; `kind` is one of KINDS, `fields` some of FIELDS."""
    if kind not in KINDS:
        raise ValueError(f"unknown attachment kind {kind!r}")
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown attachment fields {sorted(unknown)}")
    return {"kind": kind, **{name: fields.get(name) for name in FIELDS}}


def contact_card(
    name: str | None, phones: Sequence[str] = (), emails: Sequence[str] = ()
) -> dict[str, Any]:
    return {"name": name, "phones": list(phones), "emails": list(emails)}


def reaction(message_id: str, emoji: str | None) -> dict[str, str]:
    return {"message_id": message_id, "emoji": emoji or ""}


def system_notice(kind: str, text: str) -> dict[str, str]:
    return {"kind": kind, "text": text}


def intent_message(intent: str, entities: dict[str, str] | None = None) -> str:
    """Rasa's intent message syntax, ``/intent{"entity": "value"}``: no NLU runs on it."""
    return f"/{intent}{json.dumps(entities)}" if entities else f"/{intent}"


def attachment_message(attachments: Sequence[dict[str, Any]]) -> str:
    """The text Rasa gets for attachments without a caption: the intent with the first kind."""
    kind = attachments[0]["kind"] if attachments else "file"
    return intent_message(SHARED_ATTACHMENT, {KIND_ENTITY: kind})
