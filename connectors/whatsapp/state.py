"""The WhatsApp connector's own state, in the same SQLite file as the inbox.

- when each customer last wrote (the 24-hour customer service window),
- delivery statuses of messages we sent (`StatusSink`; also reported to the handoff service),
- customers' number changes: the conversation (Rasa sender id, the first number) keeps its id,
  messages from the new number join it and replies go to the new number.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any, Protocol

from connectors.common import sqlite
from connectors.whatsapp.parsing import StatusUpdate
from contracts.values import DELIVERY_PROGRESS

logger = logging.getLogger(__name__)

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS whatsapp_last_inbound (
        wa_id TEXT PRIMARY KEY, at REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS whatsapp_statuses (
        message_id TEXT NOT NULL, status TEXT NOT NULL, recipient_id TEXT,
        timestamp REAL NOT NULL, error_code INTEGER, error_title TEXT,
        PRIMARY KEY (message_id, status))""",
    """CREATE TABLE IF NOT EXISTS whatsapp_numbers (
        wa_id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, changed_at REAL NOT NULL)""",
)


class StatusSink(Protocol):
    async def record(self, update: StatusUpdate) -> None: ...


class WhatsAppState:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    async def _run(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        def work(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            for statement in _SCHEMA:
                conn.execute(statement)
            return conn.execute(sql, params).fetchall()

        return await sqlite.run(self.path, work)

    async def record_inbound(self, wa_id: str, at: float) -> None:
        await self._run(
            "INSERT INTO whatsapp_last_inbound (wa_id, at) VALUES (?, ?) "
            "ON CONFLICT (wa_id) DO UPDATE SET at = max(at, excluded.at)",
            (wa_id, at),
        )

    async def last_inbound(self, wa_id: str) -> float | None:
        rows = await self._run("SELECT at FROM whatsapp_last_inbound WHERE wa_id = ?", (wa_id,))
        return rows[0][0] if rows else None

    async def conversation_for(self, wa_id: str) -> str:
        """The conversation a number writes in: its own, unless it is a customer's new number."""
        rows = await self._run(
            "SELECT conversation_id FROM whatsapp_numbers WHERE wa_id = ?", (wa_id,)
        )
        return str(rows[0][0]) if rows else wa_id

    async def address_of(self, conversation_id: str) -> str:
        """The number to write to for a conversation: the latest one its customer adopted."""
        rows = await self._run(
            "SELECT wa_id FROM whatsapp_numbers WHERE conversation_id = ? "
            "ORDER BY changed_at DESC LIMIT 1",
            (conversation_id,),
        )
        return str(rows[0][0]) if rows else conversation_id

    async def adopt_number(self, conversation_id: str, new_wa_id: str, at: float) -> None:
        await self._run(
            "INSERT INTO whatsapp_numbers (wa_id, conversation_id, changed_at) VALUES (?, ?, ?) "
            "ON CONFLICT (wa_id) DO UPDATE SET conversation_id = excluded.conversation_id, "
            "changed_at = excluded.changed_at",
            (new_wa_id, conversation_id, at),
        )

    async def record(self, update: StatusUpdate) -> None:
        """`StatusSink`: keeps each status of a message once (Meta retries webhooks)."""
        if update.status == "failed":
            logger.warning(
                "WhatsApp message %s failed: %s %s",
                update.message_id,
                update.error_code,
                update.error_title,
            )
        else:
            logger.info("WhatsApp message %s %s", update.message_id, update.status)
        await self._run(
            "INSERT OR IGNORE INTO whatsapp_statuses (message_id, status, recipient_id, "
            "timestamp, error_code, error_title) VALUES (?, ?, ?, ?, ?, ?)",
            (
                update.message_id,
                update.status,
                update.recipient_id,
                update.timestamp,
                update.error_code,
                update.error_title,
            ),
        )

    async def statuses_for(self, message_id: str) -> list[StatusUpdate]:
        """Every status seen for a message we sent, oldest first (the last one is the latest)."""
        rows = await self._run(
            "SELECT message_id, status, recipient_id, timestamp, error_code, error_title "
            "FROM whatsapp_statuses WHERE message_id = ?",
            (message_id,),
        )
        updates = [StatusUpdate(*row) for row in rows]
        # Meta does not guarantee the order of status webhooks; equal timestamps sort by progress.
        return sorted(updates, key=lambda u: (u.timestamp, _progress(u.status)))


def _progress(status: str) -> int:
    known = status in DELIVERY_PROGRESS
    return DELIVERY_PROGRESS.index(status) if known else len(DELIVERY_PROGRESS)
