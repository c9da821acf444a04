"""The ingestion sink: idempotent, order-independent, one transaction with the cursor."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from handoff.db import create_engine, session_factory
from handoff.ingest.sink import EventSink
from handoff.live import LocalBroadcaster
from handoff.models import Conversation, Message
from tests.handoff.factories import bot_event, make_conversation, slot_event, user_event

T0 = 1_795_000_000.0


def conversation_events(sender: str, turns: int) -> list[dict]:
    events = []
    for turn in range(turns):
        at = T0 + turn * 10
        events.append(user_event(sender, f"customer says {turn}", at, f"{sender}-m{turn}"))
        events.append(
            {"sender_id": sender, "event": "action", "name": "utter_x", "timestamp": at + 1}
        )
        events.append(bot_event(sender, f"bot says {turn}", at + 2))
    return events


async def transcript(sessions, sender: str) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Message.author_type, Message.text)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.conversation_id == sender)
            .order_by(Message.created_at)
        )
        return [tuple(row) for row in rows]


def expected(sender: str, turns: int) -> list[tuple[str, str]]:
    lines = []
    for turn in range(turns):
        lines += [("customer", f"customer says {turn}"), ("bot", f"bot says {turn}")]
    return lines


async def test_every_conversation_seen_exists_with_status_bot(sessions):
    sink = EventSink(sessions, LocalBroadcaster())
    await sink.store([{"sender_id": "quiet", "event": "session_started", "timestamp": T0}])
    await sink.store(conversation_events("chatty", 2))
    async with sessions() as session:
        rows = (
            await session.execute(select(Conversation.conversation_id, Conversation.status))
        ).all()
    assert sorted(rows) == [("chatty", "bot"), ("quiet", "bot")]
    assert await transcript(sessions, "chatty") == expected("chatty", 2)


async def test_duplicated_shuffled_events_and_a_restart_lose_and_double_nothing(
    database_url, sessions
):
    events = conversation_events("a", 5) + conversation_events("b", 5)
    stream = events + random.Random(7).sample(events, len(events))  # every event twice
    random.Random(3).shuffle(stream)
    half = len(stream) // 2
    sink = EventSink(sessions, LocalBroadcaster())
    for start in range(0, half, 7):
        await sink.store(
            stream[start : min(start + 7, half)], cursor=("test", str(min(start + 7, half)))
        )
    assert await sink.cursor("test") == str(half)

    # "restart": a new engine and sink on the same database, resuming from the cursor
    engine = create_engine(database_url)
    try:
        restarted = EventSink(session_factory(engine), LocalBroadcaster())
        position = int(await restarted.cursor("test") or 0)
        for start in range(position - 3, len(stream), 5):  # overlaps what was stored
            await restarted.store(stream[start : start + 5], cursor=("test", str(start + 5)))
    finally:
        await engine.dispose()
    assert await transcript(sessions, "a") == expected("a", 5)
    assert await transcript(sessions, "b") == expected("b", 5)


async def test_a_failed_batch_stores_nothing_and_keeps_the_cursor(sessions):
    sink = EventSink(sessions, LocalBroadcaster())
    await sink.store(conversation_events("c", 1), cursor=("src", "3"))
    bad = [
        *conversation_events("c", 2),
        {"sender_id": "c", "event": "user", "timestamp": "garbage"},
    ]
    with pytest.raises(ValueError):
        await sink.store(bad, cursor=("src", "9"))
    assert await sink.cursor("src") == "3"
    assert await transcript(sessions, "c") == expected("c", 1)


async def test_frustration_slot_merges_into_the_latest_customer_line(sessions):
    sink = EventSink(sessions, LocalBroadcaster())
    reading = {"score": 0.85, "signals": ["shouting", "repeated_contact"]}
    slot = slot_event("f", "frustration", reading, T0 + 1)
    await sink.store([slot])  # arrives before its message
    await sink.store(
        [
            user_event(
                "f",
                "WHERE IS MY REFUND",
                T0,
                "f-1",
                frustration={"score": 0.7, "signals": ["shouting"]},
            )
        ]
    )
    await sink.store([slot])  # redelivered: merged again, nothing changes
    async with sessions() as session:
        conversation = (await session.scalars(select(Conversation))).one()
        message = (await session.scalars(select(Message))).one()
    assert (conversation.frustration_score, conversation.frustration_signals) == (
        0.85,
        ["shouting", "repeated_contact"],
    )
    # the redelivered reading found its message this time; merging again changes nothing
    assert (message.frustration_score, message.frustration_signals) == (
        0.85,
        ["shouting", "repeated_contact"],
    )


async def test_intake_transcript_and_broker_lines_are_kept_once(sessions):
    conversation = await make_conversation(sessions, conversation_id="both")
    async with sessions() as session:
        before = (await session.scalars(select(Message).order_by(Message.created_at))).all()
    customer, bot = before
    sink = EventSink(sessions, LocalBroadcaster())
    await sink.store(
        [
            user_event(
                "both", customer.text, customer.created_at.timestamp(), customer.channel_message_id
            ),
            bot_event("both", bot.text, bot.created_at.timestamp()),
        ]
    )
    assert await transcript(sessions, "both") == [("customer", customer.text), ("bot", bot.text)]
    assert conversation["status"] == "queued"
