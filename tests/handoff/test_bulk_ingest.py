"""A batch stored in bulk ends exactly as storing its events one by one would, and two writers
storing the same events at once (two instances) still store every line once, in seq order."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from sqlalchemy import select

from handoff.db import create_engine, session_factory
from handoff.failures import is_transient
from handoff.live import LocalBroadcaster
from handoff.models import Conversation, Message
from handoff.services.sink import EventSink
from harness.handoff_data import bot_event, slot_event, user_event

T0 = 1_795_000_000.0


def stream(conversations: int = 12, seed: int = 3, prefix: str = "bulk") -> list[dict[str, Any]]:
    """Interleaved turns with frustration on lines and as slots, late lines and repeats."""
    rng = random.Random(seed)
    turns: list[list[dict[str, Any]]] = []
    for number in range(conversations):
        sender, events = f"{prefix}-{number}", []
        for turn in range(4):
            at = T0 + number + turn * 10
            reading = {"score": round(rng.uniform(0.1, 0.9), 2), "signals": [f"s{turn}"]}
            if rng.random() < 0.4:
                events.append(user_event(sender, f"hi {turn}", at, frustration=reading))
            else:
                events.append(user_event(sender, f"hi {turn}", at))
            if rng.random() < 0.5:
                events.append(slot_event(sender, "frustration", reading, at + 0.5))
            events.append(bot_event(sender, f"answer {turn}", at + 1))
        late = user_event(sender, "a late line", T0 + number + 5)  # sorts between turns
        events.insert(rng.randrange(len(events)), late)
        turns.append(events)
    mixed: list[dict[str, Any]] = []
    while turns:
        events = turns[rng.randrange(len(turns))]
        mixed.append(events.pop(0))
        turns = [t for t in turns if t]
    for _ in range(len(mixed) // 10):  # repeats, later in the stream
        position = rng.randrange(len(mixed))
        mixed.insert(rng.randrange(position, len(mixed)) + 1, dict(mixed[position]))
    return mixed


async def snapshot(sessions, prefix: str = "") -> dict[str, Any]:
    """What a user of the store could tell apart: each conversation's lines (in seq order; the
    numbers themselves may differ, a duplicate refused event by event leaves a gap) and its
    readings and version; only the conversations whose id starts with `prefix`, named without
    it."""
    async with sessions() as session:
        conversations = [
            c
            for c in (await session.scalars(select(Conversation))).all()
            if c.conversation_id.startswith(prefix)
        ]
        by_pk = {c.id: c.conversation_id.removeprefix(prefix) for c in conversations}
        messages = [
            m
            for m in (await session.scalars(select(Message).order_by(Message.seq))).all()
            if m.conversation_id in by_pk
        ]
    lines: dict[str, list[tuple[Any, ...]]] = {}
    for m in messages:
        lines.setdefault(by_pk[m.conversation_id], []).append(
            (m.author_type, m.text, m.created_at, m.frustration_score, tuple(m.frustration_signals))
        )
    return {
        "conversations": sorted(
            (by_pk[c.id], c.status, c.channel, c.frustration_score,
             tuple(c.frustration_signals), c.version)
            for c in conversations
        ),
        "lines": lines,
        "seqs_unique": len({(m.conversation_id, m.seq) for m in messages}) == len(messages),
    }  # fmt: skip


class EventByEvent(EventSink):
    """The sink with its bulk path swapped for its event-by-event path (savepoint per event)."""

    async def _store_bulk(self, items, cursor, source):  # type: ignore[no-untyped-def]
        return await self._store_isolated(items, cursor, source)


class BulkOnly(EventSink):
    """The sink with its event-by-event fallback refused: a batch the bulk path could not store
    fails the test instead of passing through the slower path."""

    async def _store_isolated(self, items, cursor, source):  # type: ignore[no-untyped-def]
        raise AssertionError("the bulk path refused a batch")


async def test_bulk_batches_store_what_event_by_event_stores(sessions):
    results = []
    for prefix, kind, batch in (("one-", EventByEvent, 1), ("bulk-", BulkOnly, 40)):
        events = stream(prefix=f"{prefix}c")
        sink = kind(sessions, LocalBroadcaster())
        for first in range(0, len(events), batch):
            await sink.store(events[first : first + batch])
        results.append(await snapshot(sessions, prefix))
    one_by_one, bulk = results
    assert bulk == one_by_one
    stored = sum(len(lines) for lines in bulk["lines"].values())
    assert stored == len({(e["sender_id"], e["text"], e["timestamp"]) for e in events
                          if e["event"] in ("user", "bot")})  # fmt: skip


async def test_two_writers_storing_the_same_batches_store_each_line_once(database_url):
    events = stream(conversations=20, seed=5)
    engines = [create_engine(database_url) for _ in range(2)]
    try:
        sinks = [EventSink(session_factory(engine), LocalBroadcaster()) for engine in engines]

        async def run(sink: EventSink) -> None:
            for first in range(0, len(events), 25):
                while True:  # as a source does: a deadlock between the two is retried
                    try:
                        await sink.store(events[first : first + 25])
                        break
                    except Exception as error:
                        if not is_transient(error):
                            raise
                        await asyncio.sleep(0.05)

        await asyncio.gather(*(run(sink) for sink in sinks))
        stored = await snapshot(session_factory(engines[0]))
    finally:
        for engine in engines:
            await engine.dispose()
    unique = {(e["sender_id"], e["text"], e["timestamp"]) for e in events if e["event"] != "slot"}
    assert sum(len(lines) for lines in stored["lines"].values()) == len(unique)
    assert stored["seqs_unique"]
