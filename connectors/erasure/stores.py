"""Deleting one customer's rows from the bot side's stores (each call is idempotent).

- Rasa's tracker store (`SQLTrackerStore`, any SQL database; `InMemoryTrackerStore` in tests):
  every event of the sender. Rasa's HTTP API cannot do this: `PUT .../tracker/events` only
  appends what the SQL store does not have yet, it never deletes a row.
- Rasa's SQL event broker database (`SQLEventBroker`, tailed by the handoff service): every row
  of the sender. If the newest row of the table is the sender's it is kept, blanked (no sender,
  `{"event": "erased"}`): SQLite hands out `max(id) + 1` again after the newest rows are deleted,
  and the handoff service's tail, whose cursor is already past those ids, would skip the new
  events that reuse them.
- The connectors' state database (`CONNECTORS_STATE_DB`): every row of a table whose customer
  column (`SENDER_COLUMNS`) is the sender or whose message id column (`MESSAGE_ID_COLUMNS`) is
  one of the sender's messages (from the tracker and from the handoff service). A table with
  neither is reported, never guessed at: new connector tables must have one of those columns.
- The action server's handoff outbox (`HANDOFF_OUTBOX_PATH`): the sender's queued requests.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

logger = logging.getLogger(__name__)

SENDER_COLUMNS = ("sender_id", "conversation_id", "wa_id", "psid", "recipient_id")
MESSAGE_ID_COLUMNS = ("message_id", "handoff_message_id", "channel_message_id")
ERASED_EVENT = json.dumps({"event": "erased"})
SQLITE_MAX_PARAMS = 500  # well under SQLite's limit on bound parameters per statement


class UnsupportedStore(Exception):
    """A configured store this module cannot erase from; the message names it."""


@dataclass
class ConnectorStateErasure:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows deleted
    unknown_tables: list[str] = field(default_factory=list)


def concrete(store: Any) -> Any:
    """The store under Rasa's wrappers (`FailSafeTrackerStore`, `AwaitableTrackerStore`)."""
    while hasattr(store, "_tracker_store"):
        store = store._tracker_store
    return store


def _event_rows(store: Any, sender_id: str) -> list[dict[str, Any]]:
    from rasa.core.tracker_store import InMemoryTrackerStore, SQLTrackerStore

    if isinstance(store, SQLTrackerStore):
        table = store.SQLEvent.__table__
        query = sa.select(table.c.data).where(table.c.sender_id == sender_id)
        with store.engine.connect() as connection:
            return [json.loads(data) for (data,) in connection.execute(query)]
    if isinstance(store, InMemoryTrackerStore):
        serialised = store.store.get(sender_id)
        return json.loads(serialised)["events"] if serialised else []
    raise UnsupportedStore(f"cannot erase from a {type(store).__name__} tracker store")


def message_ids(tracker_store: Any, sender_id: str) -> set[str]:
    """The channel and handoff message ids in the sender's tracker events."""
    found: set[str] = set()
    for event in _event_rows(concrete(tracker_store), sender_id):
        if event.get("event") == "user" and event.get("message_id"):
            found.add(str(event["message_id"]))
        metadata = event.get("metadata") or {}
        for name in ("handoff_message_id", "channel_message_id"):
            if isinstance(metadata, dict) and metadata.get(name):
                found.add(str(metadata[name]))
    return found


def erase_tracker(tracker_store: Any, sender_id: str) -> int:
    """Delete the sender's tracker; the number of events removed."""
    store = concrete(tracker_store)
    from rasa.core.tracker_store import InMemoryTrackerStore, SQLTrackerStore

    if isinstance(store, SQLTrackerStore):
        table = store.SQLEvent.__table__
        with store.engine.begin() as connection:
            result = connection.execute(table.delete().where(table.c.sender_id == sender_id))
            return int(result.rowcount)
    if isinstance(store, InMemoryTrackerStore):
        events = _event_rows(store, sender_id)
        store.store.pop(sender_id, None)
        return len(events)
    raise UnsupportedStore(f"cannot erase from a {type(store).__name__} tracker store")


def erase_broker(broker: Any, sender_id: str) -> int | None:
    """Delete the sender's rows from the SQL event broker; None when the broker keeps nothing
    here (no broker, or a message broker whose queues the consumers drain)."""
    from rasa.core.brokers.sql import SQLEventBroker

    if broker is None or not isinstance(broker, SQLEventBroker):
        return None
    table = broker.SQLBrokerEvent.__table__
    with broker.engine.begin() as connection:
        newest = connection.execute(sa.select(sa.func.max(table.c.id))).scalar()
        deleted = connection.execute(
            table.delete().where(table.c.sender_id == sender_id, table.c.id != newest)
        ).rowcount
        blanked = connection.execute(
            table.update()
            .where(table.c.id == newest, table.c.sender_id == sender_id)
            .values(sender_id=None, data=ERASED_EVENT)
        ).rowcount
    return int(deleted) + int(blanked)


def erase_connector_state(
    path: Path | None, sender_id: str, ids: Iterable[str]
) -> ConnectorStateErasure:
    result = ConnectorStateErasure()
    if path is None or not Path(path).exists():
        return result
    ids = sorted(set(ids))
    with _sqlite(path) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            if table.startswith("sqlite_"):
                continue
            columns = {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')}
            senders = [c for c in SENDER_COLUMNS if c in columns]
            id_columns = [c for c in MESSAGE_ID_COLUMNS if c in columns]
            if not senders and not id_columns:
                result.unknown_tables.append(table)
                continue
            deleted = sum(
                db.execute(f'DELETE FROM "{table}" WHERE "{column}" = ?', (sender_id,)).rowcount
                for column in senders
            )
            for column in id_columns:
                for start in range(0, len(ids), SQLITE_MAX_PARAMS):
                    chunk = ids[start : start + SQLITE_MAX_PARAMS]
                    marks = ", ".join("?" * len(chunk))
                    deleted += db.execute(
                        f'DELETE FROM "{table}" WHERE "{column}" IN ({marks})', chunk
                    ).rowcount
            result.rows[table] = deleted
    if result.unknown_tables:
        logger.warning(
            "Erasure: connector state tables without a customer or message id column were left"
            " alone: %s",
            ", ".join(result.unknown_tables),
        )
    return result


def erase_outbox(path: Path | None, sender_id: str) -> int:
    """Delete the sender's handoff requests from the action server's outbox."""
    if path is None or not Path(path).exists():
        return 0
    with _sqlite(path) as db:
        exists = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='handoff_outbox'"
        ).fetchone()
        if not exists:
            return 0
        deleted = db.execute("DELETE FROM handoff_outbox WHERE conversation_id = ?", (sender_id,))
        return int(deleted.rowcount)


class _sqlite:
    """One transaction on a SQLite file that other processes write too (WAL, busy timeout)."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, timeout=30, isolation_level=None)

    def __enter__(self) -> sqlite3.Connection:
        self.connection.execute("BEGIN IMMEDIATE")
        return self.connection

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        try:
            self.connection.execute("COMMIT" if error is None else "ROLLBACK")
        finally:
            self.connection.close()
