"""Rasa's SQL event broker database as the handoff service tails it: rows written the way
Rasa's `SQLEventBroker` writes them (one committed row per event)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# The table Rasa's SQLEventBroker creates (SQLAlchemy 1.4 DDL, read from a file it wrote); the
# service tails it (EVENT_SOURCE=sql:…).
RASA_EVENTS_TABLE = (
    "CREATE TABLE IF NOT EXISTS events (id INTEGER NOT NULL, sender_id VARCHAR(255),"
    " data TEXT, PRIMARY KEY (id))"
)


def write_rows(db: Path, events: Iterable[dict[str, Any]]) -> None:
    """Insert rows as Rasa's SQLEventBroker does (one committed row per event)."""
    connection = sqlite3.connect(db)
    try:
        with connection:  # commits
            connection.execute(RASA_EVENTS_TABLE)
            for event in events:
                connection.execute(
                    "INSERT INTO events (sender_id, data) VALUES (?, ?)",
                    (event["sender_id"], json.dumps(event)),
                )
    finally:
        connection.close()
