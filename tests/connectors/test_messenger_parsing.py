"""Parsing of Messenger webhook bodies recorded from Meta's documentation (tests/fixtures)."""

import json
from pathlib import Path
from typing import Any

import pytest

from connectors.common.attachments import attachment
from connectors.messenger.parsing import (
    CustomerMessage,
    Echo,
    MalformedWebhook,
    Receipt,
    parse_attachment,
    parse_webhook,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "messenger"
PSID = "6543210987654321"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def only_message(name: str) -> CustomerMessage:
    (event,) = parse_webhook(fixture(name))
    assert isinstance(event, CustomerMessage)
    return event


@pytest.mark.parametrize(
    ("name", "kind", "text", "display_text"),
    [
        ("text", "text", "My thermostat keeps rebooting", None),
        ("quick_reply", "quick_reply", "/stay_and_chat", "I'll stay and chat now"),
        ("postback", "postback", "/request_human", "Talk to a person"),
    ],
)
def test_what_the_customer_typed_or_tapped_becomes_the_text_for_rasa(
    name: str, kind: str, text: str, display_text: str | None
) -> None:
    message = only_message(name)
    assert (message.kind, message.text, message.display_text) == (kind, text, display_text)
    assert message.psid == PSID
    assert message.metadata()["channel"] == "messenger"
    assert message.metadata()["mid"] == message.mid == message.metadata()["message_id"]
    assert message.metadata()["timestamp"] == 1732352752478


@pytest.mark.parametrize("media", ["image", "video", "audio", "file"])
def test_media_attachments_are_an_attachment_intent_with_their_url_in_the_metadata(
    media: str,
) -> None:
    message = only_message(f"attachment_{media}")
    # never the empty text the NLU reads as "yes"
    assert (message.kind, message.text) == (
        "attachments",
        f'/shared_attachment{{"attachment_kind": "{media}"}}',
    )
    (item,) = message.metadata()["attachments"]
    assert item["kind"] == media
    assert item["url"].startswith("https://")
    assert item["media_id"] == f"{message.mid}.0"  # served by the connector's media endpoint
    assert message.media() == [(item["media_id"], item["url"])]


def test_a_shared_location_keeps_its_coordinates() -> None:
    message = only_message("attachment_location")
    assert message.text == '/shared_attachment{"attachment_kind": "location"}'
    (place,) = message.metadata()["attachments"]
    assert place == attachment(
        "location",
        latitude=52.520008,
        longitude=13.404954,
        name="Pinned Location",
        url=place["url"],  # Meta's map link
    )
    assert message.media() == []  # nothing to download


def test_a_shared_link_arrives_as_text_with_a_link_attachment() -> None:
    message = only_message("attachment_fallback")
    assert message.text == "https://lumen-home.example/help/reset"
    assert message.metadata()["attachments"] == [
        attachment(
            "link",
            url="https://lumen-home.example/help/reset",
            name="How to reset your Lumen thermostat",
        )
    ]


@pytest.mark.parametrize(
    ("raw", "summary"),
    [
        (
            {"title": "Lumen", "url": "https://x.example", "type": "fallback", "payload": None},
            attachment("link", url="https://x.example", name="Lumen"),
        ),
        ({"type": "fallback"}, attachment("link")),
    ],
)
def test_older_and_empty_fallback_attachments(raw: dict, summary: dict) -> None:
    assert parse_attachment(raw) == summary


def test_a_reaction_is_a_reaction_on_the_message_it_reacts_to() -> None:
    message = only_message("reaction")
    assert (message.kind, message.text) == ("reaction", "/reacted")
    assert message.metadata()["reaction"] == {
        "message_id": "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_delivered",
        "emoji": "❤️",
    }


@pytest.mark.parametrize(
    ("name", "status", "watermark"),
    [("delivery", "delivered", 1732352760253), ("read", "read", 1732352761253)],
)
def test_delivery_and_read_receipts(name: str, status: str, watermark: int) -> None:
    (receipt,) = parse_webhook(fixture(name))
    assert receipt == Receipt(
        PSID,
        status,
        watermark,
        ("m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_delivered",) if status == "delivered" else (),
    )


@pytest.mark.parametrize(
    ("name", "metadata"), [("echo_text", "care-handoff"), ("echo_image", None)]
)
def test_the_pages_own_messages_are_echoes_not_customer_messages(
    name: str, metadata: str | None
) -> None:
    (echo,) = parse_webhook(fixture(name))
    assert isinstance(echo, Echo)
    assert echo.psid == PSID  # the customer is the recipient of an echo
    assert echo.metadata == metadata


def test_standby_entries_yield_nothing() -> None:
    assert parse_webhook(fixture("standby")) == []


def test_every_event_of_every_entry_is_kept_in_order() -> None:
    events = parse_webhook(fixture("batch"))
    assert [type(e).__name__ for e in events] == [
        "CustomerMessage",
        "Receipt",
        "CustomerMessage",
        "CustomerMessage",
        "CustomerMessage",
    ]
    messages = [e for e in events if isinstance(e, CustomerMessage)]
    assert [(m.psid, m.text) for m in messages] == [
        (PSID, "hello"),
        (PSID, "my plug is offline"),
        ("7777777777777777", "I need a refund"),
        ("7777777777777777", "/request_human"),
    ]


def test_a_postback_without_mid_gets_a_stable_id_from_sender_and_time() -> None:
    body = {
        "object": "page",
        "entry": [
            {
                "id": "1",
                "messaging": [
                    {
                        "sender": {"id": PSID},
                        "recipient": {"id": "1"},
                        "timestamp": "1527459824",
                        "postback": {"payload": "/greet"},
                    }
                ],
            }
        ],
    }
    first, again = parse_webhook(body), parse_webhook(body)
    assert first == again
    assert first[0].mid == f"postback:{PSID}:1527459824000"


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"object": "instagram", "entry": []},
        {"object": "page"},
        {"object": "page", "entry": {"id": "1"}},
        {"object": "page", "entry": [{"id": "1", "messaging": {"sender": {}}}]},
    ],
)
def test_a_body_that_is_not_a_page_webhook_is_refused(body: Any) -> None:
    with pytest.raises(MalformedWebhook):
        parse_webhook(body)


@pytest.mark.parametrize(
    "event",
    [
        {"sender": {"id": PSID}, "message": {"text": "no mid"}},
        {"message": {"mid": "m_1", "text": "no sender"}},
        {"sender": {"id": PSID}, "read": {"watermark": "soon"}},
        {"sender": {"id": PSID}, "message": {"mid": "m_2"}},
        "not an object",
    ],
)
def test_events_missing_what_we_need_are_left_out(event: Any) -> None:
    body = {"object": "page", "entry": [{"id": "1", "messaging": [event]}]}
    assert parse_webhook(body) == []
