"""Customer messages a channel has accepted but whose bot turn has not finished yet.

A channel acknowledges a message only after `accept` wrote it here, and `finish` marks it done
once Rasa's turn has stored it. A process killed between the two leaves the message pending;
once its lease runs out, any process sharing the file takes it (`take_due`) and runs the turn
again, so an acknowledged message is not lost. The replay checks the tracker first
(`connectors.common.turns`; Rasa keeps the channel's message id on the user event): a turn that
stored the message but died before `finish` is not run twice. The lease must outlast the
slowest turn, or a turn still running would be replayed beside itself. A finished message keeps
only its ids; one whose turn failed `MAX_ATTEMPTS` times keeps its body for a person to look at.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.common import sqlite

DEFAULT_LEASE_SECONDS = 120.0
MAX_ATTEMPTS = 3  # a message whose turn fails this often is left for a person to look at

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    channel TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    accepted_at REAL NOT NULL,
    leased_until REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    done INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (channel, conversation_id, message_id)
)
"""


@dataclass(frozen=True)
class Pending:
    """A message whose turn has to run (again)."""

    conversation_id: str
    message_id: str
    body: dict[str, Any]


class Inbox:
    """One channel's accepted messages, in a SQLite file shared by its processes (WAL)."""

    def __init__(
        self, path: Path, channel: str, lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> None:
        self.path = Path(path)
        self.channel = channel
        self.lease_seconds = lease_seconds

    async def accept(self, conversation_id: str, message_id: str, body: dict[str, Any]) -> bool:
        """Store the message, leased to this process; False if it was accepted before."""
        return bool(await self.accept_all([(conversation_id, message_id, body)]))

    async def accept_all(self, messages: Sequence[tuple[str, str, dict[str, Any]]]) -> set[str]:
        """Store (conversation id, message id, body) triples in one transaction, leased to this
        process; the message ids not accepted before."""

        if not messages:  # e.g. a webhook of delivery statuses only
            return set()
        now, lease = time.time(), self.lease_seconds

        def insert(conn: sqlite3.Connection) -> set[str]:
            conn.execute(_SCHEMA)
            fresh = set()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for conversation_id, message_id, body in messages:
                    cursor = conn.execute(
                        "INSERT OR IGNORE INTO inbox (channel, conversation_id, message_id, "
                        "body, accepted_at, leased_until) VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            self.channel,
                            conversation_id,
                            message_id,
                            json.dumps(body),
                            now,
                            now + lease,
                        ),
                    )
                    if cursor.rowcount == 1:
                        fresh.add(message_id)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return fresh

        return await sqlite.run(self.path, insert)

    async def finish(self, conversation_id: str, message_id: str) -> None:
        """The turn stored the message: it is never replayed, and only its ids are kept (to
        recognise a re-send)."""

        def update(conn: sqlite3.Connection) -> None:
            conn.execute(_SCHEMA)
            conn.execute(
                "UPDATE inbox SET done = 1, body = '{}' "
                "WHERE channel = ? AND conversation_id = ? AND message_id = ?",
                (self.channel, conversation_id, message_id),
            )

        await sqlite.run(self.path, update)

    async def take_due(self, limit: int = 50) -> list[Pending]:
        """Pending messages whose lease ran out, leased again to this process (one taker), in
        the order they were accepted."""

        def take(conn: sqlite3.Connection) -> list[Pending]:
            conn.execute(_SCHEMA)
            now = time.time()
            rows = conn.execute(
                "UPDATE inbox SET leased_until = ?, attempts = attempts + 1 "
                "WHERE rowid IN (SELECT rowid FROM inbox WHERE channel = ? AND done = 0 "
                "AND attempts < ? AND leased_until < ? ORDER BY leased_until LIMIT ?) "
                "RETURNING accepted_at, conversation_id, message_id, body",
                (now + self.lease_seconds, self.channel, MAX_ATTEMPTS, now, limit),
            ).fetchall()
            return [Pending(c, m, json.loads(b)) for _, c, m, b in sorted(rows)]

        return await sqlite.run(self.path, take)
