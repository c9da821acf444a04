"""Reading what the Graph API stand-in recorded (its JSONL `record_path`) as customer-visible lines.

A record is ``{"at", "method", "path", "status", "body"}`` with the Send API body the connector
posted; `sent_message` turns one into what the customer would see and who wrote it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.common.markers import DEFAULT_BOT_MARKER

# How connectors.common.deliver.customer_facing_text labels agent lines: "Dana (Lumen Home): ..."
_AGENT_LINE = re.compile(r"^[^\n:()]{1,80} \([^\n()]{1,80}\): ")


@dataclass(frozen=True)
class SentMessage:
    """One message the business sent to a customer, as the customer would see it."""

    channel: str  # "whatsapp" | "messenger"
    recipient: str  # wa_id or PSID
    author: str  # "bot" | "agent" | "system"
    text: str
    choices: tuple[tuple[str, str], ...] = ()  # (title, payload) of buttons, rows, quick replies
    http_status: int = 200

    def render(self) -> str:
        lines = [f"{self.author:<7}{self.text}"]
        if self.choices:
            lines.append(
                " " * 7 + "  ".join(f"[{title} → {payload}]" for title, payload in self.choices)
            )
        if self.http_status != 200:
            lines.append(" " * 7 + f"(the Graph API refused it: HTTP {self.http_status})")
        return "\n".join(lines)


def end_of(path: Path) -> int:
    """The offset where the next record will start (0 while there is no file)."""
    return path.stat().st_size if path.exists() else 0


def read_records(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Complete records written after `offset`, and the offset after the last of them."""
    if not path.exists():
        return [], offset
    with path.open("rb") as outbox:
        outbox.seek(offset)
        chunk = outbox.read()
    complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits for next time
    records = [json.loads(line) for line in complete.splitlines() if line.strip()]
    return records, offset + len(complete)


def sent_message(
    record: dict[str, Any], bot_marker: str = DEFAULT_BOT_MARKER
) -> SentMessage | None:
    """The customer-visible message of a record; None for sender actions (typing) and the like."""
    body = record.get("body")
    if not isinstance(body, dict):
        return None
    if str(record.get("path", "")).endswith("/me/messages"):
        parsed = _messenger(body)
        channel = "messenger"
    else:
        parsed = _whatsapp(body)
        channel = "whatsapp"
    if parsed is None:
        return None
    recipient, text, choices = parsed
    return SentMessage(
        channel,
        recipient,
        author_of_line(text, bot_marker),
        text,
        choices,
        int(record.get("status") or 0),
    )


def author_of_line(text: str, bot_marker: str = DEFAULT_BOT_MARKER) -> str:
    """Who wrote a line, from what the customer sees: the bot marker, an agent's name, else
    a system line (e.g. "Dana from support joined")."""
    if bot_marker and text.startswith(bot_marker):
        return "bot"
    return "agent" if _AGENT_LINE.match(text) else "system"


Parsed = tuple[str, str, tuple[tuple[str, str], ...]]


def _whatsapp(body: dict[str, Any]) -> Parsed | None:
    kind = str(body.get("type") or "text")
    content = _dict(body.get(kind))
    recipient = str(body.get("to") or "")
    if kind == "text":
        return recipient, str(content.get("body") or ""), ()
    if kind == "interactive":
        action = _dict(content.get("action"))
        options = [_dict(b.get("reply")) for b in _dicts(action.get("buttons"))]
        for section in _dicts(action.get("sections")):
            options.extend(_dicts(section.get("rows")))
        choices = tuple((str(o.get("title")), str(o.get("id"))) for o in options)
        return recipient, str(_dict(content.get("body")).get("text") or ""), choices
    if kind == "template":
        return recipient, f"[template {content.get('name')}]", ()
    return recipient, f"[{kind}] {content.get('link') or content.get('id') or ''}".strip(), ()


def _messenger(body: dict[str, Any]) -> Parsed | None:
    message = body.get("message")
    if not isinstance(message, dict):
        return None  # a sender action such as typing_on
    recipient = str(_dict(body.get("recipient")).get("id") or "")
    choices = tuple(
        (str(q.get("title")), str(q.get("payload"))) for q in _dicts(message.get("quick_replies"))
    )
    if "text" in message:
        return recipient, str(message["text"]), choices
    attachment = _dict(message.get("attachment"))
    payload = _dict(attachment.get("payload"))
    if attachment.get("type") == "template":
        buttons = tuple(
            (str(b.get("title")), str(b.get("payload") or b.get("url")))
            for b in _dicts(payload.get("buttons"))
        )
        return recipient, str(payload.get("text") or "[template]"), buttons
    return recipient, f"[{attachment.get('type')}] {payload.get('url') or ''}".strip(), choices


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
