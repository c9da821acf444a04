"""Ingest throughput of the handoff service: Rasa broker events per second into the store.

`python -m benchmarks.handoff_ingest [--events N] [--database sqlite|postgresql]`

The events are a broker stream of many interleaved conversations (user, slot and bot events;
some user messages carry a frustration reading, some slots are the policy's `frustration`),
with about 5% of them delivered a second time to exercise the sink's dedupe. Paths measured,
each on a fresh store:

- `sink, batch B`: `EventSink.store` called directly with batches of B events (1, 50, 500);
- `sql tail`: the rows are first written to a Rasa-style `events` table in a SQLite file of
  their own, then `SqlTailSource` is started and timed until its cursor reaches the last id.

"lines stored" must equal the unique user and bot events: a duplicate stored twice, or a line
lost, shows up there.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks.store import add_database_option, throwaway_store
from handoff.db import create_engine, session_factory
from handoff.ingest.sources.sql_tail import SqlTailSource
from handoff.live import LocalBroadcaster
from handoff.models import Message
from handoff.services.sink import EventSink
from harness.handoff_data import bot_event, slot_event, user_event
from harness.rasa_events import write_rows

Event = dict[str, Any]

SINK_BATCH_SIZES = (1, 50, 500)
DUPLICATE_SHARE = 0.05
EVENTS_PER_CONVERSATION = 12  # four turns of user, slot, bot
TAIL_TIMEOUT = 600.0  # seconds; only a guard against a tailer that never catches up
CUSTOMER_LINES = (
    "my thermostat keeps going offline",
    "I was charged twice this month",
    "can I change the delivery address?",
    "this is the third time I am asking!!",
    "the hub does not find the new bulb",
    "I want to talk to a person",
)
BOT_LINES = (
    "Sorry to hear that. Which device is it?",
    "Let me look into your billing.",
    "Could you give me your order number?",
    "I'm handing you over to a person.",
)


@dataclass(frozen=True)
class Stream:
    events: list[Event]
    unique_lines: int  # user and bot events, duplicates not counted


@dataclass(frozen=True)
class Result:
    path: str
    database: str
    events: int
    seconds: float
    cpu_seconds: float  # this process's CPU time (all its threads); not the database server's
    lines_stored: int


def broker_stream(size: int, seed: int = 7) -> Stream:
    """`size` broker events of interleaved conversations, about 5% of them repeated later."""
    rng = random.Random(seed)
    duplicates = round(size * DUPLICATE_SHARE)
    unique = size - duplicates
    start = time.time() - 3600
    talking = [
        _conversation(rng, f"bench-{seed}-{number}", start + rng.uniform(0, 1800))
        for number in range(math.ceil(unique / EVENTS_PER_CONVERSATION))
    ]
    events: list[Event] = []
    while len(events) < unique:  # interleaved as concurrent conversations reach the broker
        index = rng.randrange(len(talking))
        events.append(talking[index].pop(0))
        if not talking[index]:
            talking[index] = talking[-1]
            talking.pop()
    lines = sum(1 for event in events if event["event"] in ("user", "bot"))
    for _ in range(duplicates):  # a repeat is an exact copy, delivered later: no new line
        position = rng.randrange(len(events))
        events.insert(rng.randrange(position, len(events)) + 1, dict(events[position]))
    return Stream(events, lines)


def _conversation(rng: random.Random, sender: str, at: float) -> list[Event]:
    events: list[Event] = []
    for turn in range(EVENTS_PER_CONVERSATION // 3):
        moment = at + turn * 20
        if rng.random() < 0.2:
            reading = {"score": round(rng.uniform(0.3, 0.95), 2), "signals": ["shouting"]}
            events.append(
                user_event(sender, rng.choice(CUSTOMER_LINES), moment, frustration=reading)
            )
        else:
            events.append(user_event(sender, rng.choice(CUSTOMER_LINES), moment))
        if rng.random() < 0.3:
            reading = {"score": round(rng.uniform(0.0, 0.9), 2), "signals": ["long_wait"]}
            events.append(slot_event(sender, "frustration", reading, moment + 0.5))
        else:
            events.append(slot_event(sender, "topic", rng.choice(("billing", "devices")), moment))
        events.append(bot_event(sender, rng.choice(BOT_LINES), moment + 1))
    return events


async def measure(
    database: str, path: str, stream: Stream, run: Callable[[EventSink], Awaitable[None]]
) -> Result:
    """Time `run` against a fresh store; count the lines it left there."""
    async with throwaway_store(database) as url:
        engine = create_engine(url)
        try:
            sessions = session_factory(engine)
            sink = EventSink(sessions, LocalBroadcaster())
            started, cpu_started = time.perf_counter(), time.process_time()
            await run(sink)
            seconds = time.perf_counter() - started
            cpu_seconds = time.process_time() - cpu_started
            async with sessions() as session:
                lines = await session.scalar(select(func.count()).select_from(Message))
        finally:
            await engine.dispose()
    return Result(path, database, len(stream.events), seconds, cpu_seconds, lines or 0)


def into_sink(events: list[Event], batch_size: int) -> Callable[[EventSink], Awaitable[None]]:
    async def run(sink: EventSink) -> None:
        for first in range(0, len(events), batch_size):
            await sink.store(events[first : first + batch_size])

    return run


class CursorWatch:
    """The sink, passed through, noting when a source's cursor reaches `last_id`."""

    def __init__(self, sink: EventSink, last_id: int) -> None:
        self.sink = sink
        self.last_id = last_id
        self.reached = asyncio.Event()

    async def store(
        self, events: list[Event], cursor: tuple[str, str] | None = None, *, source: str
    ) -> None:
        await self.sink.store(events, cursor, source=source)
        if cursor is not None and int(cursor[1]) >= self.last_id:
            self.reached.set()

    async def cursor(self, source: str) -> str | None:
        return await self.sink.cursor(source)


def through_sql_tail(broker_db: Path, rows: int) -> Callable[[EventSink], Awaitable[None]]:
    """Tail the (already written) `events` table until the cursor reaches its last id."""

    async def run(sink: EventSink) -> None:
        watch = CursorWatch(sink, last_id=rows)
        source = SqlTailSource(f"sqlite:///{broker_db}", watch)
        task = asyncio.create_task(source.run())
        try:
            await asyncio.wait_for(watch.reached.wait(), TAIL_TIMEOUT)
        finally:
            source.stop()
            await task

    return run


async def benchmark(size: int, database: str) -> list[Result]:
    stream = broker_stream(size)
    results = [
        await measure(database, f"sink, batch {batch}", stream, into_sink(stream.events, batch))
        for batch in SINK_BATCH_SIZES
    ]
    with tempfile.TemporaryDirectory(prefix="rasa-events-") as directory:
        broker_db = Path(directory) / "rasa-events.sqlite3"
        write_rows(broker_db, stream.events)  # ids 1..N, before the clock starts
        tail = through_sql_tail(broker_db, rows=len(stream.events))
        results.append(await measure(database, "sql tail", stream, tail))
    print_table(results, stream)
    return results


def print_table(results: list[Result], stream: Stream) -> None:
    print(
        f"{'path':<16} {'database':<10} {'events':>7} {'seconds':>8} {'events/s':>9}"
        f" {'cpu s':>6} {'events/cpu s':>12}  lines"
    )
    for result in results:
        check = "ok" if result.lines_stored == stream.unique_lines else "MISMATCH"
        print(
            f"{result.path:<16} {result.database:<10} {result.events:>7}"
            f" {result.seconds:>8.2f} {result.events / result.seconds:>9.0f}"
            f" {result.cpu_seconds:>6.2f} {result.events / result.cpu_seconds:>12.0f}"
            f"  {result.lines_stored}/{stream.unique_lines} {check}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000, help="events per path (default 1000)")
    add_database_option(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(benchmark(args.events, args.database))


if __name__ == "__main__":
    main()
