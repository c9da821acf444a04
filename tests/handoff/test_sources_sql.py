"""The SQL event source tails Rasa's SQL event broker table: in order, resumable, never lost."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select

from handoff.app import create_app
from handoff.failures import Rejected
from handoff.ingest.sources import create_source
from handoff.ingest.sources.sql_tail import SqlTailSource
from handoff.live import LocalBroadcaster
from handoff.models import DeadLetter, Message
from handoff.services.sink import EventSink
from handoff.settings import EventSource
from harness.handoff_data import bot_event, user_event
from harness.rasa_events import write_rows
from harness.service import serving

REPO = Path(__file__).resolve().parents[2]
BOT_PYTHON = REPO / ".venv-bot" / "bin" / "python"
# Publishes events exactly as Rasa's tracker store does: {"sender_id": …, **event.as_dict()}.
RASA_SQL_PUBLISHER = """
import json, sys, warnings
warnings.simplefilter("ignore")
from rasa.core.brokers.sql import SQLEventBroker
from rasa.shared.core.events import Event
broker = SQLEventBroker(db=sys.argv[1])
for item in json.load(sys.stdin):
    sender_id = item.pop("sender_id")
    broker.publish({"sender_id": sender_id, **Event.from_parameters(item).as_dict()})
"""
T0 = 1_795_000_000.0
WAIT = 30  # seconds; only a guard against hanging, never reached when things work


class RecordingSink:
    """A fake `EventSink` that keeps every batch and the cursors, and can fail on demand."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.cursors: dict[str, str] = {}
        self.failures_left = 0
        self._changed = asyncio.Condition()

    async def store(
        self,
        events: list[dict[str, Any] | Rejected],
        cursor: tuple[str, str] | None = None,
        *,
        source: str,
    ) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise OSError("handoff database unavailable")
        async with self._changed:
            self.batches.append(list(events))
            if cursor is not None:
                self.cursors[cursor[0]] = cursor[1]
            self._changed.notify_all()

    async def cursor(self, source: str) -> str | None:
        return self.cursors.get(source)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [event for batch in self.batches for event in batch if isinstance(event, dict)]

    @property
    def rejected(self) -> list[Rejected]:
        return [event for batch in self.batches for event in batch if isinstance(event, Rejected)]

    async def until(self, done: Callable[[RecordingSink], bool]) -> None:
        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: done(self))

        await asyncio.wait_for(wait(), WAIT)


def texts(events: list[dict[str, Any]]) -> list[str]:
    return [event["text"] for event in events]


def said(sender: str, *lines: str) -> list[dict[str, Any]]:
    """`user` events, one per line, a second apart."""
    return [user_event(sender, line, T0 + n) for n, line in enumerate(lines)]


async def rasa_publish(db: Path, events: list[dict[str, Any]]) -> None:
    """Publish with Rasa's own SQLEventBroker, in the bot's environment."""
    if not BOT_PYTHON.exists():
        pytest.skip("needs the bot environment (.venv-bot) for Rasa's SQLEventBroker")
    process = await asyncio.create_subprocess_exec(
        str(BOT_PYTHON),
        "-c",
        RASA_SQL_PUBLISHER,
        str(db),
        stdin=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate(json.dumps(events).encode())
    assert process.returncode == 0, stderr.decode()


@asynccontextmanager
async def running(source: SqlTailSource) -> AsyncIterator[SqlTailSource]:
    task = asyncio.create_task(source.run())
    try:
        yield source
    finally:
        source.stop()
        await asyncio.wait_for(task, WAIT)


def sqlite_source(db: Path, sink: RecordingSink, **options: Any) -> SqlTailSource:
    return SqlTailSource(f"sqlite:///{db}", sink, poll_interval=0.02, **options)


async def test_hands_over_what_rasas_sql_broker_wrote_in_order_with_the_cursor(tmp_path):
    db = tmp_path / "rasa-events.sqlite3"
    turn = [
        *said("alice", "my bill is wrong"),
        {"sender_id": "alice", "event": "action", "name": "action_listen"},
        {
            "sender_id": "alice",
            "event": "bot",
            "text": "Let me look at that.",
            "metadata": {"utter_action": "utter_check"},
        },
        {"sender_id": "alice", "event": "slot", "name": "topic", "value": "billing"},
    ]
    await rasa_publish(db, turn)
    sink = RecordingSink()
    source = create_source("sql", f"sqlite:///{db}", sink)

    async with running(source):
        await sink.until(lambda s: len(s.events) == 4)

    assert [event["event"] for event in sink.events] == ["user", "action", "bot", "slot"]
    assert {event["sender_id"] for event in sink.events} == {"alice"}
    assert sink.events[0]["message_id"] == turn[0]["message_id"]
    assert sink.events[0]["parse_data"]["intent"]["name"] == "greet"
    assert sink.events[2]["text"] == "Let me look at that."
    assert sink.cursors == {f"sql:sqlite:///{db}": "4"}


async def test_a_write_to_the_sqlite_file_wakes_the_tail_long_before_its_poll(tmp_path):
    db = tmp_path / "events.sqlite3"
    write_rows(db, said("erin", "first"))
    sink = RecordingSink()
    # A poll interval past the wait limit: only the file change can deliver in time.
    source = SqlTailSource(f"sqlite:///{db}", sink, poll_interval=10 * WAIT)

    async with running(source):
        await sink.until(lambda s: len(s.events) == 1)
        for number in range(3):
            await asyncio.to_thread(write_rows, db, said("erin", f"later {number}"))
            await sink.until(lambda s, seen=number + 2: len(s.events) == seen)

    assert texts(sink.events) == ["first", "later 0", "later 1", "later 2"]


async def test_a_restarted_source_resumes_at_the_stored_cursor(tmp_path):
    db = tmp_path / "events.sqlite3"
    write_rows(db, said("bob", *(f"message {n}" for n in range(5))))
    sink = RecordingSink()
    first = sqlite_source(db, sink, batch_size=2)

    async with running(first):
        await sink.until(lambda s: len(s.batches) >= 1)
    write_rows(db, said("bob", *(f"message {n}" for n in range(5, 8))))
    async with running(sqlite_source(db, sink, batch_size=2)):
        await sink.until(lambda s: len(s.events) >= 8)

    assert texts(sink.events) == [f"message {n}" for n in range(8)]
    assert sink.cursors[first.name] == "8"


async def test_duplicated_rows_are_all_handed_to_the_sink(tmp_path):
    db = tmp_path / "events.sqlite3"
    event = said("carol", "hello?")[0]
    write_rows(db, [event, event])
    sink = RecordingSink()

    async with running(sqlite_source(db, sink)):
        await sink.until(lambda s: len(s.events) == 2)

    assert [e["message_id"] for e in sink.events] == [event["message_id"]] * 2


class WarningSeen(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.set()


async def test_waits_for_rasa_to_create_the_database_without_creating_it(tmp_path):
    db = tmp_path / "not-yet.sqlite3"
    sink = RecordingSink()
    warned = WarningSeen()
    logger = logging.getLogger("handoff.ingest.sources.sql_tail")
    logger.addHandler(warned)
    try:
        async with running(sqlite_source(db, sink)):
            await asyncio.wait_for(warned.seen.wait(), WAIT)
            assert not db.exists()
            await rasa_publish(db, said("dana", "anyone there?"))
            await sink.until(lambda s: len(s.events) == 1)
    finally:
        logger.removeHandler(warned)

    assert texts(sink.events) == ["anyone there?"]


async def test_a_failed_store_is_retried_and_nothing_is_skipped(tmp_path):
    db = tmp_path / "events.sqlite3"
    write_rows(db, said("erin", "one", "two"))
    sink = RecordingSink()
    sink.failures_left = 1

    async with running(sqlite_source(db, sink)):
        await sink.until(lambda s: len(s.events) == 2)

    assert texts(sink.events) == ["one", "two"]


async def test_a_row_that_is_not_json_is_handed_over_as_rejected_and_the_rest_go_on(tmp_path):
    db = tmp_path / "events.sqlite3"
    write_rows(db, said("fay", "before"))
    with sqlite3.connect(db) as connection:
        connection.execute("INSERT INTO events (sender_id, data) VALUES ('fay', '{broken')")
    write_rows(db, said("fay", "after"))
    sink = RecordingSink()

    async with running(source := sqlite_source(db, sink)):
        await sink.until(lambda s: s.cursors.get(source.name) == "3")

    assert texts(sink.events) == ["before", "after"]
    assert [(r.payload, r.error.split(":")[0]) for r in sink.rejected] == [("{broken", "not JSON")]


def test_source_names_ignore_driver_and_credentials():
    one = SqlTailSource("postgresql://rasa:secret@db:5432/events", RecordingSink())
    other = SqlTailSource("postgresql+psycopg2://other@db:5432/events", RecordingSink())

    assert one.name == other.name == "sql:postgresql://db:5432/events"


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql://db/events"])
def test_unusable_urls_are_refused(url):
    with pytest.raises(ValueError):
        SqlTailSource(url, RecordingSink())


# PostgreSQL: several Rasa instances can commit event ids out of order.


@pytest.fixture
async def pg_events_url() -> AsyncIterator[str]:
    name = f"handoff_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    except OSError:
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    connection = await asyncpg.connect(url)
    # Rasa's SQLEventBroker table on PostgreSQL (an Integer primary key becomes SERIAL).
    await connection.execute(
        "CREATE TABLE events (id SERIAL PRIMARY KEY, sender_id VARCHAR(255), data TEXT)"
    )
    await connection.close()
    try:
        yield url
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def pg_insert(connection: asyncpg.Connection, text: str) -> None:
    (event,) = said("gus", text)
    await connection.execute(
        "INSERT INTO events (sender_id, data) VALUES ($1, $2)", "gus", json.dumps(event)
    )


async def test_postgres_an_id_committed_late_is_not_skipped(pg_events_url):
    writer = await asyncpg.connect(pg_events_url)
    slow_writer = await asyncpg.connect(pg_events_url)
    await pg_insert(writer, "one")
    await pg_insert(writer, "two")
    slow = slow_writer.transaction()
    await slow.start()
    await pg_insert(slow_writer, "three")  # id 3, not committed yet
    await pg_insert(writer, "four")  # id 4, committed first
    sink = RecordingSink()
    source = SqlTailSource(pg_events_url, sink, poll_interval=0.02, gap_grace=3600)

    async with running(source):
        await sink.until(lambda s: len(s.events) == 2)
        await slow.commit()
        await sink.until(lambda s: len(s.events) == 4)

    assert texts(sink.events) == ["one", "two", "three", "four"]
    assert sink.cursors[source.name] == "4"
    await writer.close()
    await slow_writer.close()


async def test_postgres_a_rolled_back_id_is_passed_after_the_grace(pg_events_url):
    writer = await asyncpg.connect(pg_events_url)
    await pg_insert(writer, "one")
    rolled_back = writer.transaction()
    await rolled_back.start()
    await pg_insert(writer, "never")
    await rolled_back.rollback()
    await pg_insert(writer, "three")
    sink = RecordingSink()

    async with running(SqlTailSource(pg_events_url, sink, poll_interval=0.02, gap_grace=0)):
        await sink.until(lambda s: len(s.events) == 2)

    assert texts(sink.events) == ["one", "three"]
    await writer.close()


# With the real sink, on the handoff store (SQLite and PostgreSQL, from conftest).


async def until_cursor(sink: EventSink, source: str, position: str) -> None:
    for _ in range(WAIT * 50):
        if await sink.cursor(source) == position:
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"{source} never reached {position}")


async def stored_lines(sessions) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Message.author_type, Message.text).order_by(Message.created_at)
        )
        return [(author, text) for author, text in rows]


async def test_duplicated_rows_and_a_restart_store_every_line_once(tmp_path, sessions):
    db = tmp_path / "rasa-events.sqlite3"
    first_turn = [*said("hana", "the app crashes"), bot_event("hana", "Which phone?", T0 + 2)]
    write_rows(db, first_turn + first_turn)  # the same events written twice
    source = sqlite_source(db, EventSink(sessions, LocalBroadcaster()), batch_size=3)
    async with running(source):
        await until_cursor(EventSink(sessions, LocalBroadcaster()), source.name, "4")
    write_rows(db, [user_event("hana", "an old one", T0 + 3), bot_event("hana", "Thanks", T0 + 4)])

    restarted = EventSink(sessions, LocalBroadcaster())
    async with running(sqlite_source(db, restarted, batch_size=3)):
        await until_cursor(restarted, source.name, "6")

    assert await stored_lines(sessions) == [
        ("customer", "the app crashes"),
        ("bot", "Which phone?"),
        ("customer", "an old one"),
        ("bot", "Thanks"),
    ]


async def test_a_malformed_event_is_set_aside_and_the_cursor_moves_past_it(tmp_path, sessions):
    """On main the sink raised for these rows and the tail retried the same batch forever."""
    db = tmp_path / "rasa-events.sqlite3"
    bad_ones = [
        {**user_event("jo", "with metadata", T0 + 1), "metadata": {"attachments": 5}},
        user_event("jo", "far future", 1e20),
        user_event("jo", "when?", "yesterday"),
        user_event("j" * 300, "a long sender", T0 + 2),
    ]
    write_rows(db, [user_event("jo", "first", T0), *bad_ones, bot_event("jo", "last", T0 + 3)])
    sink = EventSink(sessions, LocalBroadcaster())

    async with running(source := sqlite_source(db, sink, batch_size=2)):
        await until_cursor(sink, source.name, "6")

    assert await stored_lines(sessions) == [("customer", "first"), ("bot", "last")]
    async with sessions() as session:
        letters = (await session.scalars(select(DeadLetter).order_by(DeadLetter.id))).all()
    assert [(letter.source, letter.status) for letter in letters] == [(source.name, "open")] * 4
    assert [letter.error.split(":")[0] for letter in letters] == [
        "metadata.attachments",
        "timestamp",
        "timestamp",
        "sender_id",
    ]
    assert json.loads(letters[1].payload) == bad_ones[1]


async def test_the_app_runs_the_configured_source_while_it_serves(tmp_path, settings, sessions):
    db = tmp_path / "rasa-events.sqlite3"
    app = create_app(replace(settings, event_source=EventSource("sql", f"sqlite:///{db}")))

    await rasa_publish(db, said("ivy", "is anyone there?"))

    async with serving(app):
        write_rows(db, [bot_event("ivy", "Yes, how can I help?", T0 + 1)])
        await until_cursor(app.ctx.sink, f"sql:sqlite:///{db}", "2")
        task = app.ctx.event_source_task

    assert task.done() and not task.cancelled()
    assert await stored_lines(sessions) == [
        ("customer", "is anyone there?"),
        ("bot", "Yes, how can I help?"),
    ]
