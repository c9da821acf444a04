"""What the Messenger connector remembers per conversation, in the connectors' SQLite file.

The customer's last message time decides the messaging window of agent replies; delivery and
read watermarks say how far the customer's Messenger got with our messages (the latest wins).
Also the URLs of the attachments customers sent (served by the media endpoint) and their names.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.common import sqlite
from connectors.messenger.parsing import Receipt

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS messenger_conversations (
        psid TEXT PRIMARY KEY,
        last_customer_message_at REAL,
        delivered_watermark_ms INTEGER,
        read_watermark_ms INTEGER)""",
    # The attachments customers sent, for the media endpoint (Messenger gives URLs, no ids).
    """CREATE TABLE IF NOT EXISTS messenger_media (
        media_id TEXT PRIMARY KEY, psid TEXT NOT NULL, url TEXT NOT NULL)""",
    # The customer's name from the Graph API profile, fetched once.
    """CREATE TABLE IF NOT EXISTS messenger_profiles (
        psid TEXT PRIMARY KEY, name TEXT NOT NULL)""",
)
_COLUMNS = {"delivered": "delivered_watermark_ms", "read": "read_watermark_ms"}


@dataclass(frozen=True)
class DeliveryStatus:
    """Our messages sent before `delivered_until_ms` reached the customer's device, before
    `read_until_ms` were read (epoch milliseconds; None until Meta reported one)."""

    delivered_until_ms: int | None
    read_until_ms: int | None


class ConversationState:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    async def customer_wrote(self, psid: str, at: float) -> None:
        """Note a customer message sent at `at` (epoch seconds); an older one changes nothing."""
        await self._write(
            "INSERT INTO messenger_conversations (psid, last_customer_message_at) VALUES (?, ?) "
            "ON CONFLICT (psid) DO UPDATE SET last_customer_message_at = "
            "MAX(COALESCE(last_customer_message_at, 0), excluded.last_customer_message_at)",
            (psid, at),
        )

    async def last_customer_message_at(self, psid: str) -> float | None:
        row = await self._read("last_customer_message_at", psid)
        return None if row is None else row[0]

    async def record_receipt(self, receipt: Receipt) -> None:
        """Keep the newest delivery or read watermark of the conversation."""
        column = _COLUMNS[receipt.status]
        await self._write(
            f"INSERT INTO messenger_conversations (psid, {column}) VALUES (?, ?) "
            f"ON CONFLICT (psid) DO UPDATE SET {column} = "
            f"MAX(COALESCE({column}, 0), excluded.{column})",
            (receipt.psid, receipt.watermark_ms),
        )

    async def delivery_status(self, psid: str) -> DeliveryStatus:
        row = await self._read("delivered_watermark_ms, read_watermark_ms", psid)
        return DeliveryStatus(*(row or (None, None)))

    async def remember_media(self, psid: str, media: list[tuple[str, str]]) -> None:
        for media_id, url in media:
            await self._write(
                "INSERT OR IGNORE INTO messenger_media (media_id, psid, url) VALUES (?, ?, ?)",
                (media_id, psid, url),
            )

    async def media_url(self, media_id: str) -> str | None:
        row = await self._one("SELECT url FROM messenger_media WHERE media_id = ?", (media_id,))
        return None if row is None else str(row[0])

    async def remember_name(self, psid: str, name: str) -> None:
        await self._write(
            "INSERT OR REPLACE INTO messenger_profiles (psid, name) VALUES (?, ?)", (psid, name)
        )

    async def name_of(self, psid: str) -> str | None:
        row = await self._one("SELECT name FROM messenger_profiles WHERE psid = ?", (psid,))
        return None if row is None else str(row[0])

    async def _write(self, statement: str, params: tuple[object, ...]) -> None:
        def write(conn: sqlite3.Connection) -> None:
            for schema in _SCHEMA:
                conn.execute(schema)
            conn.execute(statement, params)

        await sqlite.run(self.path, write)

    async def _read(self, columns: str, psid: str) -> tuple[Any, ...] | None:
        return await self._one(
            f"SELECT {columns} FROM messenger_conversations WHERE psid = ?", (psid,)
        )

    async def _one(self, query: str, params: tuple[object, ...]) -> tuple[Any, ...] | None:
        def read(conn: sqlite3.Connection) -> tuple[Any, ...] | None:
            for schema in _SCHEMA:
                conn.execute(schema)
            row: tuple[Any, ...] | None = conn.execute(query, params).fetchone()
            return row

        return await sqlite.run(self.path, read)
