"""Making bot vs human visible on channels that cannot show a badge."""

from __future__ import annotations

from typing import Any

from contracts.values import BOT, HUMAN_AUTHORS

DEFAULT_BOT_MARKER = "🤖 "


def mark_bot_text(text: str, marker: str | None) -> str:
    """Prefix a bot line with `marker` ("" or None turns marking off; never prefixed twice)."""
    if not marker or text.startswith(marker):
        return text
    return marker + text


def author_of(metadata: dict[str, Any] | None) -> str:
    """ "agent" or "system" when the message metadata says so, else "bot"."""
    author = (metadata or {}).get("author_type")
    return author if author in HUMAN_AUTHORS else BOT
