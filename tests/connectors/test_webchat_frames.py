"""The widget protocol as pure functions: client frames, history from tracker events."""

from __future__ import annotations

import json

import pytest

from connectors.webchat.frames import (
    CustomerMessage,
    CustomerTyping,
    FrameError,
    history_frame,
    language,
    outgoing_frame,
    parse_client_frame,
    session_id,
)

BOT = {"bot_name": "Lumen assistant", "bot_marker": None}


def test_a_typed_message_and_a_button_press():
    typed = parse_client_frame(
        json.dumps({"type": "message", "text": " hi ", "client_id": "c-123456"})
    )
    pressed = parse_client_frame(
        json.dumps(
            {
                "type": "payload",
                "payload": "/track_order",
                "title": "Track",
                "client_id": "c-654321",
            }
        )
    )
    assert typed == CustomerMessage("c-123456", "hi", "hi")
    assert pressed == CustomerMessage("c-654321", "/track_order", "Track")
    assert parse_client_frame('{"type": "typing"}') == CustomerTyping(on=True)
    assert parse_client_frame('{"type": "typing", "on": false}') == CustomerTyping(on=False)


@pytest.mark.parametrize(
    "raw",
    [
        "[1]",
        '{"type": "message", "text": 3, "client_id": "c-123456"}',
        '{"type": "payload", "client_id": "c-123456"}',
    ],
)
def test_frames_the_server_refuses(raw):
    with pytest.raises(FrameError):
        parse_client_frame(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("7D8C2F36-0B5E-4A59-9D36-2F0F4F8D3A11", "7d8c2f36-0b5e-4a59-9d36-2f0f4f8d3a11"),
        ("15551234567", None),
        ("", None),
        (None, None),
    ],
)
def test_the_session_must_be_a_uuid(raw, expected):
    assert session_id(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("de-CH", "de"), ("en", "en"), ("pt_BR", "pt"), ("??", None), (None, None)],
)
def test_the_language_is_the_primary_subtag(raw, expected):
    assert language(raw) == expected


def test_the_history_marks_every_author_and_skips_what_the_customer_did_not_write():
    events = [
        {"event": "action", "name": "action_session_start", "timestamp": 1.0},
        {
            "event": "user",
            "text": "/request_human",
            "timestamp": 2.0,
            "message_id": "c-1",
            "metadata": {"display_text": "Talk to a person"},
        },
        {"event": "bot", "text": "Sure.", "timestamp": 3.0, "data": {}, "metadata": {}},
        {
            "event": "bot",
            "text": "Dana from support joined",
            "timestamp": 4.0,
            "data": {},
            "metadata": {"author_type": "system", "handoff_message_id": "h-1"},
        },
        {
            "event": "bot",
            "text": "Hi, Dana here.",
            "timestamp": 5.0,
            "data": {},
            "metadata": {
                "author_type": "agent",
                "author_name": "Dana",
                "handoff_message_id": "h-2",
            },
        },
        {
            "event": "user",
            "text": "EXTERNAL: handoff_ended",
            "timestamp": 6.0,
            "metadata": {"is_external": True},
        },
        {
            "event": "bot",
            "text": "You're back with our virtual assistant.",
            "timestamp": 7.0,
            "data": {
                "buttons": [
                    {"title": "FAQ", "url": "https://help.example/faq"},
                    {"title": "Bad", "url": "javascript:alert(1)"},
                ]
            },
            "metadata": {},
        },
    ]
    lines = history_frame(events, **BOT)["messages"]
    assert [(line["author_type"], line["author_name"], line["text"]) for line in lines] == [
        ("customer", None, "Talk to a person"),
        ("bot", "Lumen assistant", "Sure."),
        ("system", None, "Dana from support joined"),
        ("agent", "Dana", "Hi, Dana here."),
        ("bot", "Lumen assistant", "You're back with our virtual assistant."),
    ]
    assert [line["id"] for line in lines][:1] + [line["id"] for line in lines][2:4] == [
        "c-1",
        "h-1",
        "h-2",
    ]
    assert lines[-1]["buttons"] == [{"title": "FAQ", "url": "https://help.example/faq"}]
    assert lines[0]["at"] == "1970-01-01T00:00:02+00:00"


def test_the_bot_marker_only_prefixes_bot_lines():
    marked = {"bot_name": "Lumen assistant", "bot_marker": "🤖 "}
    bot = outgoing_frame({"text": "Hi"}, line_id="1", at=0, **marked)
    agent = outgoing_frame(
        {"text": "Hi", "author_type": "agent", "author_name": "Dana"}, line_id="2", at=0, **marked
    )
    assert (bot["text"], agent["text"]) == ("🤖 Hi", "Hi")
