"""Property-based tests of every connector parser that takes outside input.

Arbitrary JSON, and JSON in the shape of each payload with arbitrary values where the fields go:
a parser returns what it understood or raises its declared error, never anything else, and what
it returns has the types the connector relies on.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from connectors.common.safe_json import JsonRejected, parse_json
from connectors.messenger.parsing import (
    CustomerMessage,
    MalformedWebhook,
    Receipt,
    parse_event,
)
from connectors.messenger.parsing import parse_webhook as parse_messenger
from connectors.webchat.frames import CustomerMessage as WebChatMessage
from connectors.webchat.frames import CustomerTyping, FrameError, parse_client_frame
from connectors.whatsapp.parsing import InboundMessage, parse_message, parse_status
from connectors.whatsapp.parsing import parse_webhook as parse_whatsapp

BOUNDED = settings(max_examples=150, deadline=None)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.sampled_from([1e300, -1.0, 0, "", "1e400", "text", "16505551234"])
    | st.text(max_size=12)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The plausible value or anything at all in its place."""
    return strategy | values


def shaped(required: dict[str, Any], optional: dict[str, Any]) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(
        {key: maybe(value) for key, value in required.items()},
        optional={key: maybe(value) for key, value in optional.items()},
    )


WA_KINDS = ["text", "image", "interactive", "button", "location", "contacts", "reaction", "x"]
wa_message = shaped(
    {"id": st.text(min_size=1, max_size=8), "from": st.text(max_size=8)},
    {
        "type": st.sampled_from(WA_KINDS),
        "timestamp": st.text(max_size=12),
        "context": shaped({"id": st.text(max_size=5)}, {"from": st.text(max_size=5)}),
        **{
            kind: shaped(
                {},
                {
                    "body": st.text(max_size=8),
                    "type": st.sampled_from(["button_reply", "list_reply"]),
                    "button_reply": shaped({"id": st.text(max_size=5)}, {"title": values}),
                    "id": st.text(max_size=5),
                    "caption": values,
                    "latitude": st.floats(),
                    "longitude": st.floats(),
                    "payload": values,
                },
            )
            for kind in WA_KINDS
        },
        "contacts": st.lists(
            shaped({}, {"name": shaped({}, {"formatted_name": values}), "phones": values})
        ),
    },
)
wa_status = shaped(
    {"id": st.text(max_size=8), "status": st.sampled_from(["sent", "delivered", "failed"])},
    {"recipient_id": st.text(max_size=8), "timestamp": values, "errors": st.lists(values)},
)
wa_payload = shaped(
    {"object": st.just("whatsapp_business_account")},
    {
        "entry": st.lists(
            shaped(
                {},
                {
                    "changes": st.lists(
                        shaped(
                            {"field": st.just("messages")},
                            {
                                "value": shaped(
                                    {},
                                    {
                                        "metadata": shaped({}, {"phone_number_id": values}),
                                        "contacts": st.lists(values),
                                        "messages": st.lists(wa_message, max_size=3),
                                        "statuses": st.lists(wa_status, max_size=3),
                                    },
                                )
                            },
                        ),
                        max_size=2,
                    )
                },
            ),
            max_size=2,
        )
    },
)


def check_whatsapp_message(message: InboundMessage | None) -> None:
    if message is not None:
        assert isinstance(message.text, str) and isinstance(message.wa_id, str)
        assert 0 <= message.timestamp < float("inf")
        json.dumps(message.rasa_metadata(), allow_nan=False)  # Rasa stores it as JSON


@BOUNDED
@given(st.one_of(wa_payload, st.dictionaries(st.text(max_size=8), values)))
def test_whatsapp_payloads_always_parse(payload: dict) -> None:
    batch = parse_whatsapp(payload)
    for message in batch.messages:
        check_whatsapp_message(message)
    for status in batch.statuses:
        assert isinstance(status.message_id, str) and isinstance(status.timestamp, float)


@BOUNDED
@given(wa_message, wa_status)
@example({"id": "a", "from": "1", "type": "interactive", "interactive": {"type": [1]}}, {})
@example({"id": "a", "from": "1", "type": "image", "image": {"id": "m", "caption": {}}}, {})
@example({"id": "a", "from": "1", "type": "text", "text": {"body": "hi"}, "timestamp": 1e400}, {})
@example({"id": "0", "from": "", "timestamp": -1}, {"id": "", "status": "sent"})
@example({"id": "a", "from": "1", "type": "text", "text": {"body": "hi"}, "timestamp": 1e20}, {})
def test_whatsapp_messages_and_statuses_always_parse(message: dict, status: dict) -> None:
    check_whatsapp_message(parse_message(message, {}))
    parse_status(status)


party = shaped({"id": st.text(min_size=1, max_size=8)}, {})
fb_event = shaped(
    {"sender": party, "recipient": party},
    {
        "timestamp": st.integers() | st.text(max_size=14),
        "message": shaped(
            {"mid": st.text(max_size=8)},
            {
                "text": st.text(max_size=8),
                "is_echo": st.booleans(),
                "quick_reply": shaped({"payload": st.text(max_size=5)}, {}),
                "attachments": st.lists(
                    shaped({"type": st.text(max_size=5)}, {"payload": values}), max_size=2
                ),
            },
        ),
        "postback": shaped({"payload": st.text(max_size=5)}, {"title": values, "mid": values}),
        "delivery": shaped({"watermark": st.integers()}, {"mids": st.lists(values)}),
        "read": shaped({"watermark": st.integers()}, {}),
    },
)
fb_payload = shaped(
    {"object": st.just("page")},
    {"entry": st.lists(shaped({"id": st.text(max_size=5)}, {"messaging": st.lists(fb_event)}))},
)


def check_messenger_event(event: Any) -> None:
    if isinstance(event, CustomerMessage):
        assert isinstance(event.text, str) and isinstance(event.mid, str)
        assert event.display_text is None or isinstance(event.display_text, str)
        json.dumps(event.metadata())
    if isinstance(event, Receipt):
        assert all(isinstance(mid, str) for mid in event.mids)


@BOUNDED
@given(st.one_of(fb_payload, values))
def test_messenger_payloads_parse_or_are_malformed(payload: Any) -> None:
    try:
        events = parse_messenger(payload)
    except MalformedWebhook:
        return
    for event in events:
        check_messenger_event(event)


@BOUNDED
@given(fb_event)
@example({"sender": {"id": "1"}, "delivery": {"watermark": 1, "mids": 5}})
@example({"sender": {"id": "1"}, "read": {"watermark": 1e400}})
@example({"sender": {"id": "1"}, "message": {"mid": "m", "attachments": 5}})
@example({"sender": {"id": "1"}, "message": {"mid": "m", "text": {"a": 1}}})
@example({"sender": {"id": "1"}, "message": {"mid": "m", "attachments": [{"type": "location"}]}})
def test_messenger_events_always_parse(event: dict) -> None:
    check_messenger_event(parse_event(event))


client_frame = shaped(
    {"type": st.sampled_from(["message", "payload", "typing", "file"])},
    {
        "text": st.text(max_size=20),
        "payload": st.text(max_size=20),
        "title": values,
        "client_id": st.from_regex(r"[A-Za-z0-9_-]{8,64}", fullmatch=True),
    },
)


@BOUNDED
@given(
    st.one_of(
        client_frame.map(json.dumps),
        values.map(json.dumps),
        st.text(max_size=40),
        st.binary(max_size=40),
        st.integers(1, 5000).map(lambda depth: "[" * depth + "]" * depth),
    )
)
def test_web_chat_frames_parse_or_get_an_error_frame(raw: str | bytes) -> None:
    try:
        frame = parse_client_frame(raw)
    except FrameError as error:
        assert error.error and error.message
        return
    assert isinstance(frame, (WebChatMessage, CustomerTyping))
    if isinstance(frame, WebChatMessage):
        assert isinstance(frame.text, str) and frame.text
        assert isinstance(frame.display_text, str)


@BOUNDED
@given(st.one_of(st.binary(max_size=60), values.map(json.dumps), st.integers(0, 3000)))
def test_bounded_json_parses_or_is_rejected(raw: bytes | str | int) -> None:
    text = "[" * raw + "]" * raw if isinstance(raw, int) else raw
    try:
        parse_json(text, max_bytes=4096)
    except JsonRejected as error:
        assert error.reason in {"malformed_json", "too_deep", "too_large"}
