"""The handoff service's SQLite store under a running product, for what no API can do: let time
pass. Plain `sqlite3`: this tier runs in the bot's environment, whose SQLAlchemy is not the
service's. Times are stored as SQLAlchemy writes them on SQLite: naive UTC text."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

# A conversation's own rows: each table with the column naming the conversation.
OWNED = (
    ("conversations", "id"),
    ("messages", "conversation_id"),
    ("assignments", "conversation_id"),
    ("notes", "conversation_id"),
)
STORED = "%Y-%m-%d %H:%M:%S.%f"


def stored(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime(STORED)


@contextmanager
def handoff_store(workdir: Path) -> Iterator[sqlite3.Connection]:
    """One transaction on the running service's database (it waits while the service writes)."""
    with closing(sqlite3.connect(workdir / "handoff.sqlite3", timeout=30)) as db, db:
        yield db


def move_into_the_past(workdir: Path, conversation_pk: str, by: timedelta) -> None:
    """Every time of a conversation, of its lines, assignments and notes, `by` earlier: as if it
    had all happened `by` ago (the real clock cannot be moved for the running processes)."""
    with handoff_store(workdir) as db:
        for table, owner in OWNED:
            times = [
                name
                for _, name, kind, *_ in db.execute(f"PRAGMA table_info({table})")
                if kind.upper() == "DATETIME"
            ]
            rows = db.execute(
                f"SELECT rowid, {', '.join(times)} FROM {table} WHERE {owner} = ?",
                (conversation_pk,),
            ).fetchall()
            for rowid, *values in rows:
                earlier = {
                    name: (datetime.fromisoformat(value) - by).strftime(STORED)
                    for name, value in zip(times, values, strict=True)
                    if value
                }
                if earlier:
                    assignments = ", ".join(f"{name} = :{name}" for name in earlier)
                    db.execute(
                        f"UPDATE {table} SET {assignments} WHERE rowid = :rowid",
                        {**earlier, "rowid": rowid},
                    )
