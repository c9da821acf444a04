"""Rasa broker events -> transcript lines (pure)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from contracts.transcript import Attachment, dedupe_key
from handoff.ingest.mapping import FrustrationReading, Seen, event_time, map_event
from handoff.lines import Frustration, Line
from handoff.services.intake import parse_handoff
from harness.handoff_data import bot_event, handoff_body, slot_event, user_event

T = 1_795_000_000.123456


def test_user_event_is_a_customer_line():
    event = user_event(
        "s1", "my bill is WRONG", T, "mid-1", frustration={"score": 0.6, "signals": ["shouting"]}
    )
    event["metadata"] = {"attachments": [{"kind": "image", "media_id": "m-7", "caption": "bill"}]}
    line = map_event(event)
    assert line == Line(
        conversation_id="s1",
        dedupe_key="user:mid-1",
        author_type="customer",
        text="my bill is WRONG",
        created_at=datetime.fromtimestamp(T, timezone.utc).replace(microsecond=123000),
        attachments=[Attachment("image", caption="bill", media_id="m-7").to_json()],
        channel_message_id="mid-1",
        intent="greet",
        frustration=Frustration(0.6, ("shouting",)),
        channel="webchat",
    )


def test_bot_event_author_comes_from_metadata():
    plain = map_event(bot_event("s1", "Hello!", T))
    assert isinstance(plain, Line) and plain.author_type == "bot" and plain.author_name is None
    agent = map_event(
        bot_event(
            "s1",
            "Hi, Dana here",
            T,
            author_type="agent",
            author_name="Dana",
            handoff_message_id="abc",
        )
    )
    assert (agent.author_type, agent.author_name, agent.dedupe_key) == (
        "agent",
        "Dana",
        "handoff:abc",
    )


def test_a_line_has_the_same_key_from_the_broker_and_the_intake_transcript():
    stamp = datetime.fromtimestamp(T, timezone.utc).isoformat(timespec="milliseconds")
    body = handoff_body(
        "s1",
        transcript=[
            {"author_type": "bot", "text": "Hello!", "timestamp": stamp.replace("+00:00", "Z")},
            {"author_type": "customer", "text": "hi", "timestamp": stamp, "message_id": "m1"},
        ],
    )
    from_intake = [line.dedupe_key for line in parse_handoff(body).transcript]
    from_broker = [
        map_event(bot_event("s1", "Hello!", T)).dedupe_key,
        map_event(user_event("s1", "hi", T, "m1")).dedupe_key,
    ]
    assert from_intake == from_broker
    at = event_time(T)
    assert dedupe_key("customer", at, "x") != dedupe_key("customer", at, "y")


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            slot_event("s1", "frustration", {"score": 0.8, "signals": ["profanity"]}, T),
            FrustrationReading,
        ),
        (slot_event("s1", "topic", "billing", T), Seen),
        ({"sender_id": "s1", "event": "action", "name": "action_listen", "timestamp": T}, Seen),
        ({"sender_id": "s1", "event": "session_started", "timestamp": T}, Seen),
        ({"event": "user", "timestamp": T}, type(None)),
    ],
)
def test_other_events(event, expected):
    assert isinstance(map_event(event), expected)


def test_an_intent_triggered_through_rasas_api_is_not_a_customer_line():
    """Return to bot triggers `handoff_ended`; Rasa logs it as a user event marked external."""
    event = user_event("c1", "EXTERNAL: handoff_ended", 1_700_000_000.0, "m-ext")
    event["metadata"] = {"is_external": True}
    assert map_event(event) is None
