"""Durable idempotency on a channel's message id: Meta retries webhooks until it gets a 200."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from connectors.common import sqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen_messages (
    channel TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (channel, message_id)
)
"""


class SeenMessages:
    """Remembers which channel message ids were processed, in a SQLite file (WAL mode)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    async def first_time(self, channel: str, message_id: str) -> bool:
        """Record the id; True the first time, False if it was recorded before (any process)."""

        def insert(conn: sqlite3.Connection) -> bool:
            conn.execute(_SCHEMA)
            cursor = conn.execute(
                "INSERT OR IGNORE INTO seen_messages (channel, message_id, seen_at) "
                "VALUES (?, ?, ?)",
                (channel, message_id, time.time()),
            )
            return cursor.rowcount == 1

        return await sqlite.run(self.path, insert)
