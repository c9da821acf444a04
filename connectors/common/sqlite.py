"""Small SQLite plumbing for connector state (runs inside Rasa's event loop, so off-thread)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def connect(path: Path) -> sqlite3.Connection:
    """A connection in WAL mode that waits for other writers instead of failing at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=10, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


async def run(path: Path, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run `work` on a fresh connection in a worker thread, then close the connection.

    A connection per call keeps threads apart (sqlite3 connections are not shareable); the
    connector's write rate is a few rows per inbound message, so the open cost does not matter.
    """

    def _call() -> T:
        conn = connect(path)
        try:
            return work(conn)
        finally:
            conn.close()

    return await asyncio.to_thread(_call)
