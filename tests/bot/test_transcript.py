"""The transcript agents read, built from tracker events shaped like Rasa's `Event.as_dict()`."""

from __future__ import annotations

from typing import Any

import pytest

from actions.transcript import build_transcript, current_session, iso_utc, peak_frustration

T0 = 1_795_000_000.0  # seconds since the epoch, as in Rasa events


def user(
    text: str | None,
    at: float,
    *,
    intent: str = "inform",
    score: float = 0.0,
    signals: tuple[str, ...] = (),
    message_id: str = "m1",
    channel: str = "whatsapp",
    entities: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "event": "user",
        "timestamp": at,
        "text": text,
        "parse_data": {
            "intent": {"name": intent, "confidence": 0.9},
            "entities": entities or [],
            "text": text,
            "frustration": {"score": score, "signals": list(signals)},
        },
        "input_channel": channel,
        "message_id": message_id,
        "metadata": {},
    }


def bot(text: str | None, at: float, **metadata: Any) -> dict[str, Any]:
    return {
        "event": "bot",
        "timestamp": at,
        "text": text,
        "data": {"buttons": [{"title": "Yes", "payload": "/affirm"}] if text else None},
        "metadata": metadata,
    }


def slot(name: str, value: Any, at: float) -> dict[str, Any]:
    return {"event": "slot", "timestamp": at, "name": name, "value": value}


def action(name: str, at: float) -> dict[str, Any]:
    return {"event": "action", "timestamp": at, "name": name, "policy": None, "confidence": 1.0}


@pytest.fixture
def two_sessions() -> list[dict[str, Any]]:
    """Yesterday's session, then today's in which an agent answered."""
    return [
        action("action_session_start", T0),
        {"event": "session_started", "timestamp": T0},
        action("action_listen", T0),
        user("hi", T0 + 1, intent="greet", message_id="a1"),
        bot("Hi! I'm the Lumen Home bot.", T0 + 2, author_type="bot", template="utter_greet"),
        action("action_session_start", T0 + 86_400),
        {"event": "session_started", "timestamp": T0 + 86_400},
        user(
            "MY LOCK IS STILL BROKEN",
            T0 + 86_401,
            intent="technical_problem",
            score=0.6,
            signals=("shouting",),
            message_id="b1",
            entities=[{"entity": "device_name", "value": "lock"}],
        ),
        slot(
            "frustration", {"score": 0.8, "signals": ["shouting", "repeated_contact"]}, T0 + 86_402
        ),
        bot("Sorry about that. Do you want a person?", T0 + 86_402),
        bot(None, T0 + 86_402.5, author_type="bot"),  # an image-only message: no text line
        user("/affirm", T0 + 86_403, intent="affirm", message_id="b2", channel="webchat"),
        slot("topic", "technical", T0 + 86_403.5),
        user(None, T0 + 86_404, message_id="b3"),
        bot("Hello, I'm Sam from Lumen Home.", T0 + 86_500, author_type="agent", author_name="Sam"),
    ]


def test_every_line_has_its_author_type_across_all_sessions(two_sessions) -> None:
    lines = build_transcript(two_sessions)

    assert [(line["author_type"], line["text"]) for line in lines] == [
        ("customer", "hi"),
        ("bot", "Hi! I'm the Lumen Home bot."),
        ("customer", "MY LOCK IS STILL BROKEN"),
        ("bot", "Sorry about that. Do you want a person?"),
        ("customer", "/affirm"),
        ("agent", "Hello, I'm Sam from Lumen Home."),
    ]
    assert lines[-1]["author_name"] == "Sam"


def test_customer_lines_carry_message_facts(two_sessions) -> None:
    line = build_transcript(two_sessions)[2]

    assert line["message_id"] == "b1"
    assert line["intent"] == "technical_problem"
    assert line["channel"] == "whatsapp"
    assert line["entities"] == [{"entity": "device_name", "value": "lock"}]
    assert line["timestamp"] == iso_utc(T0 + 86_401)
    assert line["timestamp"].endswith("Z")
    assert line["payload"] is False


def test_conversation_level_frustration_is_merged_into_the_message_it_follows(two_sessions) -> None:
    lines = build_transcript(two_sessions)

    assert lines[2]["frustration"] == {"score": 0.8, "signals": ["shouting", "repeated_contact"]}
    assert lines[0]["frustration"] == {"score": 0.0, "signals": []}


def test_payload_only_messages_are_kept_and_marked(two_sessions) -> None:
    line = build_transcript(two_sessions)[4]

    assert line["text"] == "/affirm"
    assert line["payload"] is True
    assert line["channel"] == "webchat"


def test_bot_lines_keep_buttons_and_default_to_bot(two_sessions) -> None:
    line = build_transcript(two_sessions)[3]

    assert line["author_type"] == "bot"
    assert line["buttons"] == [{"title": "Yes", "payload": "/affirm"}]


def test_current_session_and_peak_frustration(two_sessions) -> None:
    today = build_transcript(current_session(two_sessions))

    assert today[0]["text"] == "MY LOCK IS STILL BROKEN"
    assert peak_frustration(today) == {"score": 0.8, "signals": ["shouting", "repeated_contact"]}
    assert peak_frustration([]) == {"score": 0.0, "signals": []}


def test_iso_utc() -> None:
    assert iso_utc(0) == "1970-01-01T00:00:00.000Z"
    assert iso_utc(None) is None


def test_attachment_only_messages_reactions_and_notices_are_lines() -> None:
    photo = {"kind": "image", "media_id": "media-1", "caption": "the lock"}
    events = [
        {**user("", T0, message_id="p1"), "metadata": {"attachments": [photo]}},
        {**user("", T0 + 1, message_id="r1"), "metadata": {"reaction": {"message_id": "p1"}}},
        {
            **user("", T0 + 2, message_id="n1"),
            "metadata": {"system_notice": {"kind": "number_change", "text": "New number."}},
        },
        {**user("EXTERNAL: handoff_ended", T0 + 3), "metadata": {"is_external": True}},
        user("", T0 + 4, message_id="empty"),  # nothing to show
    ]

    lines = build_transcript(events)

    assert [line["author_type"] for line in lines] == ["customer", "customer", "system"]
    assert lines[0]["attachments"][0]["caption"] == "the lock"
    assert lines[0]["attachments"][0]["kind"] == "image"
    assert lines[1]["reaction"] == {"message_id": "p1", "emoji": ""}
    assert (lines[2]["text"], lines[2]["system_notice"]["kind"]) == ("New number.", "number_change")


def test_an_attachment_that_does_not_fit_leaves_its_message_out_not_the_transcript() -> None:
    bad = {**user("", T0, message_id="x"), "metadata": {"attachments": [{"kind": "hologram"}]}}
    lines = build_transcript([bad, user("still here", T0 + 1, message_id="y")])
    assert [line["text"] for line in lines] == ["still here"]
