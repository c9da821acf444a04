"""The ingestion sink: idempotent, order-independent, one transaction with the cursor."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from handoff.db import create_engine, session_factory
from handoff.failures import is_transient
from handoff.live import LocalBroadcaster
from handoff.models import Conversation, DeadLetter, Message
from handoff.services.sink import EventSink
from harness.handoff_data import bot_event, make_conversation, slot_event, user_event
from tests.handoff.refusal import refusing

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


async def letters(sessions) -> list[tuple[str, str | None, str, int, str]]:
    """(source, conversation, status, attempts, error) of every dead letter, oldest first."""
    async with sessions() as session:
        rows = await session.scalars(select(DeadLetter).order_by(DeadLetter.id))
        return [(r.source, r.conversation_id, r.status, r.attempts, r.error) for r in rows]


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


async def test_a_database_that_is_down_raises_a_transient_error_and_sets_nothing_aside(sessions):
    sink = EventSink(sessions, LocalBroadcaster())
    await sink.store(conversation_events("c", 1), cursor=("src", "3"))
    down = create_engine("postgresql+asyncpg://postgres@127.0.0.1:9/handoff")
    try:
        with pytest.raises(Exception) as failure:
            await EventSink(session_factory(down), LocalBroadcaster()).store(
                [*conversation_events("c", 2), user_event("c", "x", "yesterday")],
                cursor=("src", "9"),
                source="src",
            )
    finally:
        await down.dispose()
    assert is_transient(failure.value)  # the source retries the batch; no event is blamed
    assert await sink.cursor("src") == "3"
    assert await transcript(sessions, "c") == expected("c", 1)
    assert await letters(sessions) == []


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


MALFORMED = [
    ("attachments", {"metadata": {"attachments": 5}}, "metadata.attachments"),
    ("far future", {"timestamp": 1e20}, "timestamp"),
    ("words", {"timestamp": "yesterday"}, "timestamp"),
    ("long sender", {"sender_id": "s" * 300}, "sender_id"),
    ("object id", {"message_id": {"id": 1}}, "message_id"),
    ("nul", {"text": "nul \x00 inside"}, "text"),
    ("intent", {"parse_data": {"intent": {"name": ["greet"]}}}, "parse_data.intent.name"),
]


@pytest.mark.parametrize(("label", "change", "field"), MALFORMED, ids=[m[0] for m in MALFORMED])
async def test_a_malformed_event_is_set_aside_and_the_rest_of_the_batch_is_stored(
    sessions, label, change, field
):
    """Each of these made the whole batch fail (and the SQL tail retry it forever) on main."""
    sink = EventSink(sessions, LocalBroadcaster())
    bad = {**user_event("d", "the bad one", T0 + 5, "d-bad"), **change}
    batch = [*conversation_events("d", 1), bad, bot_event("d", "after the bad one", T0 + 6)]

    await sink.store(batch, cursor=("src", "4"), source="src")
    await sink.store(batch, cursor=("src", "4"), source="src")  # redelivered

    assert await sink.cursor("src") == "4"
    assert await transcript(sessions, "d") == [*expected("d", 1), ("bot", "after the bad one")]
    ((source, conversation, status, attempts, error),) = await letters(sessions)
    assert (source, status, attempts) == ("src", "open", 2)
    assert conversation == (bad["sender_id"] if len(bad["sender_id"]) <= 255 else None)
    assert error.startswith(f"{field}:")


async def test_an_event_the_database_refuses_is_set_aside_and_the_rest_stored(sessions):
    """The safety net behind the shapes: only the refused event is set aside."""
    sink = EventSink(sessions, LocalBroadcaster())
    async with refusing(sessions, "refuse me"):
        await sink.store(
            [
                user_event("e", "before", T0, "e-1"),
                user_event("e", "refuse me", T0 + 1, "e-2"),
                bot_event("e", "after", T0 + 2),
            ],
            cursor=("src", "3"),
            source="src",
        )

    assert await sink.cursor("src") == "3"
    assert await transcript(sessions, "e") == [("customer", "before"), ("bot", "after")]
    ((_, conversation_id, status, _, error),) = await letters(sessions)
    assert (conversation_id, status) == ("e", "open")
    assert "refused by the test" in error
