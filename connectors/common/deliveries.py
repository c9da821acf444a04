"""Which handoff message ids a deliver endpoint sent, is sending, or failed to send.

The handoff service retries a deliver call it saw no answer to (a timeout while a slow channel is
still sending), so the same message id can arrive twice at once, later, or in another Rasa
process. Each id is claimed here as `sending` before the channel is called and settled after
(`sent` with the answer, or `failed`, which a retry may claim again), in the connectors' SQLite
state file, so no id is ever sent twice.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from connectors.common import sqlite

SENDING, SENT, FAILED = "sending", "sent", "failed"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    channel TEXT NOT NULL,
    message_id TEXT NOT NULL,
    state TEXT NOT NULL,
    answer BLOB,
    updated_at REAL NOT NULL,
    PRIMARY KEY (channel, message_id)
)
"""


@dataclass(frozen=True)
class Claim:
    """`ours`: this request may send now. Else `state` is the other attempt's (`sending` since
    `since`, or `sent` with its `answer`, the JSON body it returned)."""

    ours: bool
    state: str
    answer: bytes | None = None
    since: float = 0.0


class DeliveryLedger:
    def __init__(self, path: Path, channel: str) -> None:
        self.path = Path(path)
        self.channel = channel

    async def claim(self, message_id: str) -> Claim:
        """Take the id for sending if it is new or its last attempt failed (one statement, so
        two processes can never both take it); else say what the other attempt is at."""

        def work(conn: sqlite3.Connection) -> Claim:
            conn.execute(_SCHEMA)
            taken = conn.execute(
                "INSERT INTO deliveries (channel, message_id, state, updated_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (channel, message_id) DO UPDATE "
                "SET state = excluded.state, answer = NULL, updated_at = excluded.updated_at "
                "WHERE deliveries.state = ?",
                (self.channel, message_id, SENDING, time.time(), FAILED),
            ).rowcount
            if taken:
                return Claim(ours=True, state=SENDING)
            state, answer, since = conn.execute(
                "SELECT state, answer, updated_at FROM deliveries "
                "WHERE channel = ? AND message_id = ?",
                (self.channel, message_id),
            ).fetchone()
            return Claim(ours=False, state=state, answer=answer, since=since)

        return await sqlite.run(self.path, work)

    async def settle(self, message_id: str, state: str, answer: bytes | None = None) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(_SCHEMA)
            conn.execute(
                "UPDATE deliveries SET state = ?, answer = ?, updated_at = ? "
                "WHERE channel = ? AND message_id = ?",
                (state, answer, time.time(), self.channel, message_id),
            )

        await sqlite.run(self.path, work)
