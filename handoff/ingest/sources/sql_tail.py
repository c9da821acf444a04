"""Tail the `events` table that Rasa's SQL event broker writes (the embedded default).

Rasa's `SQLEventBroker` inserts one row per event: `id` (integer primary key), `sender_id`,
`data` (the event as JSON text), in a database of its own. This source reads rows with
`id` greater than its cursor, in id order, and stores each batch together with the id of its
last row, so a restarted service goes on exactly where the last stored batch ended. A row that
cannot be stored becomes a dead letter in that same transaction and the cursor moves past it.

On SQLite the tail sleeps until the file changes (`wakeup.FileChanges`, inotify), so a new
event is read within a millisecond or two of Rasa's commit; the poll interval remains as a
fallback. On PostgreSQL it polls (the scaled topology takes events from RabbitMQ instead).

Ids are handed out at insert but become visible at commit. SQLite has one writer at a time,
so rows appear in id order. On PostgreSQL two Rasa instances can commit ids out of order:
a missing id may still arrive, so the tailer waits `gap_grace` seconds at a hole before it
treats the id as rolled back and reads past it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, Row, String, Text, column, select, table
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from handoff.ingest.sources import EventSink, parse_event
from handoff.ingest.sources.wakeup import FileChanges
from handoff.periodic import wait_until_set
from outbound.retry import Backoff

logger = logging.getLogger(__name__)

EVENTS = table("events", column("id", Integer), column("sender_id", String), column("data", Text))
ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
# How long a missing id may still be an uncommitted insert (see the module docstring).
GAP_GRACE = {"sqlite": 0.0, "postgresql": 5.0}


def async_url(url: str) -> URL:
    """The async-driver URL for a broker database URL; SQLite files are opened read-only."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in ASYNC_DRIVERS:
        raise ValueError(f"SQL event source: unsupported database {backend!r} in {url!r}")
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ValueError("SQL event source: a SQLite URL must name a file")
        # mode=ro: never create the file (Rasa creates it with its first event) nor write.
        return parsed.set(
            drivername=ASYNC_DRIVERS[backend],
            database=f"file:{parsed.database}",
            query={"mode": "ro", "uri": "true"},
        )
    return parsed.set(drivername=ASYNC_DRIVERS[backend])


def source_name(url: str) -> str:
    """`sql:<database>`: the cursor's key, the same whatever driver or credentials are used."""
    parsed = make_url(url)
    where = URL.create(
        parsed.get_backend_name(), host=parsed.host, port=parsed.port, database=parsed.database
    )
    return f"sql:{where.render_as_string()}"


class SqlTailSource:
    def __init__(
        self,
        url: str,
        sink: EventSink,
        *,
        batch_size: int = 500,
        poll_interval: float = 0.25,
        gap_grace: float | None = None,
    ) -> None:
        self.name = source_name(url)
        self._url = async_url(url)
        self._sink = sink
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._gap_grace = (
            GAP_GRACE[self._url.get_backend_name()] if gap_grace is None else gap_grace
        )
        self._hole: tuple[int, float] | None = None  # (missing id, when first seen)
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        engine = create_async_engine(self._url, pool_pre_ping=True)
        backoff = Backoff(maximum=5.0)  # a failed poll is cheap; Rasa's first event is not late
        after: int | None = None
        changes = self._file_changes()
        try:
            while not self._stopping.is_set():
                if changes is not None:
                    changes.changed.clear()  # a write from now on wakes the wait below
                try:
                    if after is None:
                        after = int(await self._sink.cursor(self.name) or 0)
                    rows = await self._read(engine, after)
                    ready = self._ready(rows, after)
                    if ready:
                        await self._sink.store(
                            [parse_event(row.data, row.sender_id) for row in ready],
                            cursor=(self.name, str(ready[-1].id)),
                            source=self.name,
                        )
                        after = ready[-1].id
                except Exception as exc:  # the database failed: it retries, never skips
                    level = backoff.log_level
                    delay = backoff.next_delay()
                    logger.log(
                        level,
                        "Event source %s: %s; retrying in %.1f s",
                        self.name,
                        exc,
                        delay,
                        exc_info=not isinstance(exc, SQLAlchemyError | OSError),
                    )
                    await wait_until_set(self._stopping, delay)
                    continue
                backoff.reset()
                if len(ready) < self._batch_size:
                    await self._wait_for_rows(changes)
        finally:
            if changes is not None:
                changes.close()
            await engine.dispose()

    def _file_changes(self) -> FileChanges | None:
        if self._url.get_backend_name() != "sqlite" or not self._url.database:
            return None
        return FileChanges(self._url.database.removeprefix("file:"))

    async def _wait_for_rows(self, changes: FileChanges | None) -> None:
        """Until the poll interval passed, the source is stopped or the SQLite file changed."""
        if changes is None or not changes.active:
            await wait_until_set(self._stopping, self._poll_interval)
            return
        stopping = asyncio.ensure_future(self._stopping.wait())
        changed = asyncio.ensure_future(changes.changed.wait())
        try:
            await asyncio.wait(
                {stopping, changed},
                timeout=self._poll_interval,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            stopping.cancel()
            changed.cancel()

    async def _read(self, engine: AsyncEngine, after: int) -> Sequence[Row[Any]]:
        query = (
            select(EVENTS.c.id, EVENTS.c.sender_id, EVENTS.c.data)
            .where(EVENTS.c.id > after)
            .order_by(EVENTS.c.id)
            .limit(self._batch_size)
        )
        async with engine.connect() as connection:
            return (await connection.execute(query)).all()

    def _ready(self, rows: Sequence[Row[Any]], after: int) -> list[Row[Any]]:
        """The leading rows that can be stored now: up to a hole that may still fill."""
        ready: list[Row[Any]] = []
        expected = after + 1
        for row in rows:
            if row.id != expected and not self._hole_settled(expected):
                break
            ready.append(row)
            expected = row.id + 1
        return ready

    def _hole_settled(self, missing_id: int) -> bool:
        now = time.monotonic()
        if self._hole is None or self._hole[0] != missing_id:
            self._hole = (missing_id, now)
        return now - self._hole[1] >= self._gap_grace
