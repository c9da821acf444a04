"""Property-based tests of the Rasa event mapping and the sink (hypothesis).

Any JSON value as an event: `map_event` returns a mapping or None, or raises `InvalidInput`,
nothing else. Events of the shapes Rasa publishes map to lines, and every line the mapping
accepts is stored (the database never refuses what the shapes let through). A user message with
neither text nor attachments is no line (the contract's `transcript_line`).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from handoff.ingest.mapping import InvalidInput, Seen, map_event
from handoff.lines import Line
from handoff.live import LocalBroadcaster
from handoff.models import Conversation, Message
from handoff.services.sink import EventSink

# Every character, lone surrogates and NUL included: JSON can carry them all.
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | ANY_TEXT
    | st.integers(min_value=240, max_value=320).map(lambda n: "é" * n)  # around column sizes
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)
KINDS = st.sampled_from(["user", "bot", "slot", "action", "session_started", None]) | ANY_TEXT
SLOT_NAMES = st.sampled_from(["frustration", "topic"])
FIELDS = {
    "sender_id": JSON,
    "timestamp": JSON | st.floats(0, 4e9) | st.sampled_from(["yesterday", "1e20", "2026-12-01"]),
    "text": JSON,
    "message_id": JSON,
    "input_channel": JSON | st.sampled_from(["rest", "facebook", "whatsapp"]),
    "metadata": JSON | st.fixed_dictionaries({"attachments": JSON}),
    "parse_data": JSON | st.fixed_dictionaries({"intent": JSON, "frustration": JSON}),
    "name": JSON | SLOT_NAMES,
    "value": JSON | st.fixed_dictionaries({"score": JSON, "signals": JSON}),
}
# Near-Rasa events: the right keys with any values, so the validation of each field is reached.
NEAR_EVENTS = st.fixed_dictionaries(
    {"event": KINDS}, optional={name: values for name, values in FIELDS.items()}
)
PLAIN = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=60)
SENDERS = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=255)
TIMES = st.floats(min_value=0, max_value=4e9, allow_nan=False)
IDS = st.none() | st.text(st.characters(codec="ascii", exclude_characters="\x00"), max_size=240)


@st.composite
def rasa_events(
    draw: st.DrawFn,
    texts: st.SearchStrategy[str] = PLAIN,
    senders: st.SearchStrategy[str] = SENDERS,
) -> dict[str, Any]:
    """A `user` or `bot` event as Rasa's broker publishes it (`texts`: its free text)."""
    if draw(st.booleans()):
        return {
            "event": "user",
            "sender_id": draw(senders),
            "timestamp": draw(TIMES),
            "text": draw(texts),
            "message_id": draw(IDS),
            "input_channel": draw(st.sampled_from(["rest", "whatsapp", "facebook", None])),
            "parse_data": {
                "intent": {"name": draw(st.none() | texts), "confidence": 0.5},
                "entities": [],
            },
            "metadata": {"attachments": draw(st.lists(st.just({"type": "image"}), max_size=2))},
        }
    metadata = {
        "author_type": draw(st.sampled_from(["bot", "agent", "system"])),
        "author_name": draw(st.none() | texts),
        "handoff_message_id": draw(IDS),
    }
    return {
        "event": "bot",
        "sender_id": draw(senders),
        "timestamp": draw(TIMES),
        "text": draw(texts.filter(bool)),
        "metadata": metadata,
    }


def mapped_or_invalid(event: Any) -> Any:
    try:
        return map_event(event)
    except InvalidInput as error:
        return error


@settings(max_examples=150, deadline=None)
@given(JSON | NEAR_EVENTS)
def test_any_json_maps_or_raises_only_the_validation_error(event):
    outcome = mapped_or_invalid(event)
    if isinstance(outcome, InvalidInput):
        assert outcome.field or outcome.problem
        assert str(outcome).startswith(outcome.field)


@settings(max_examples=150, deadline=None)
@given(rasa_events())
def test_events_of_rasas_shapes_map_to_lines(event):
    line = map_event(event)
    if event["event"] == "user" and not (event["text"] or event["metadata"]["attachments"]):
        assert isinstance(line, Seen)  # nothing to show: the conversation exists, no line
        return
    assert isinstance(line, Line)
    assert (line.conversation_id, line.text) == (event["sender_id"], event["text"])
    assert line.author_type == ("customer" if event["event"] == "user" else "bot") or (
        line.author_type == event["metadata"]["author_type"]
    )
    assert len(line.dedupe_key) <= 255


async def stored_keys(sessions) -> set[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Conversation.conversation_id, Message.dedupe_key).join(
                Conversation, Conversation.id == Message.conversation_id
            )
        )
        return {(sender, key) for sender, key in rows}


@pytest.mark.slow
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        rasa_events(ANY_TEXT, ANY_TEXT.filter(bool) | SENDERS) | NEAR_EVENTS, min_size=1, max_size=6
    )
)
async def test_every_line_the_mapping_accepts_is_stored(sessions, events):
    """On SQLite and PostgreSQL: storing never raises, and no accepted line is set aside."""
    await EventSink(sessions, LocalBroadcaster()).store(events, source="fuzz")

    accepted = {
        (line.conversation_id, line.dedupe_key)
        for line in map(mapped_or_invalid, events)
        if isinstance(line, Line)
    }
    assert accepted <= await stored_keys(sessions)
