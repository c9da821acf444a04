"""What the customer is told when a person joins, leaves or closes: sent as system lines, so every
channel shows them the same way and they appear in the transcript. The texts, in each language,
are the designers' (`notice` in bot/texts.yml, or CUSTOMER_TEXTS_PATH), read when they change."""

from __future__ import annotations

from typing import Any

from customer_texts import load_texts_cached


def notice(name: str, language: str | None, **values: Any) -> str:
    """The `notice.<name>` text in the customer's language, e.g. notice("joined", "de", ...)."""
    return load_texts_cached().render(f"notice.{name}", language, **values)
