import json
from pathlib import Path
from typing import Any

import pytest

from connectors.common.attachments import attachment, contact_card
from connectors.whatsapp.parsing import Handling, parse_webhook

FIXTURES = Path(__file__).parents[1] / "fixtures" / "whatsapp"
WA_ID = "16505551234"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.mark.parametrize(
    ("name", "text", "handling", "details"),
    [
        ("text", "Does it come in another color?", Handling.BOT, {}),
        (
            "interactive_button_reply",
            "/stay_and_chat",
            Handling.BOT,
            {"reply": {"id": "/stay_and_chat", "title": "Stay and chat"}},
        ),
        (
            "interactive_list_reply",
            '/choose_topic{"topic":"billing"}',
            Handling.BOT,
            {
                "reply": {
                    "id": '/choose_topic{"topic":"billing"}',
                    "title": "Billing",
                    "description": "Invoices, refunds and payments",
                }
            },
        ),
        (
            "button",
            "/talk_to_agent",
            Handling.BOT,
            {"reply": {"id": "/talk_to_agent", "title": "Talk to a person"}},
        ),
        (
            "image",
            "The hub's light is blinking red",  # the caption is what the customer wrote
            Handling.BOT,
            {
                "attachments": [
                    attachment(
                        "image",
                        media_id="1003383421387256",
                        mime_type="image/jpeg",
                        caption="The hub's light is blinking red",
                    )
                ]
            },
        ),
        (
            "document",
            "My invoice",
            Handling.BOT,
            {
                "attachments": [
                    attachment(
                        "file",
                        media_id="2194563718321437",
                        mime_type="application/pdf",
                        caption="My invoice",
                        filename="invoice-482913.pdf",
                    )
                ]
            },
        ),
        # no caption: the attachment itself, never a placeholder text to classify
        (
            "audio",
            '/shared_attachment{"attachment_kind": "voice"}',  # a voice note (`voice: true`)
            Handling.BOT,
            {
                "attachments": [
                    attachment(
                        "voice", media_id="1233658504651744", mime_type="audio/ogg; codecs=opus"
                    )
                ]
            },
        ),
        (
            "video",
            '/shared_attachment{"attachment_kind": "video"}',
            Handling.BOT,
            {
                "attachments": [
                    attachment("video", media_id="1684461732431066", mime_type="video/mp4")
                ]
            },
        ),
        (
            "sticker",
            '/shared_attachment{"attachment_kind": "sticker"}',
            Handling.BOT,
            {
                "attachments": [
                    attachment("sticker", media_id="1233658504651745", mime_type="image/webp")
                ]
            },
        ),
        (
            "location",
            '/shared_attachment{"attachment_kind": "location"}',
            Handling.BOT,
            {
                "attachments": [
                    attachment(
                        "location",
                        latitude=37.483307,
                        longitude=-122.148403,
                        name="Philz Coffee",
                        address="1 Hacker Way, Menlo Park, CA 94025",
                        url="https://philzcoffee.com",
                    )
                ]
            },
        ),
        (
            "contacts",
            '/shared_attachment{"attachment_kind": "contact"}',
            Handling.BOT,
            {
                "attachments": [
                    attachment(
                        "contact",
                        name="Barbara J. Johnson",
                        contact=contact_card(
                            "Barbara J. Johnson", ["+1 (650) 555-1234"], ["bjohnson@example.com"]
                        ),
                    )
                ]
            },
        ),
        ("unsupported", "", Handling.UNSUPPORTED, {}),
    ],
)
def test_each_inbound_type(
    name: str, text: str, handling: Handling, details: dict[str, Any]
) -> None:
    batch = parse_webhook(fixture(name))
    assert batch.statuses == []
    [message] = batch.messages
    assert (message.text, message.handling) == (text, handling)
    assert message.wa_id == WA_ID
    assert message.profile_name == "Sheena Nelson"
    assert message.timestamp == 1749416383.0
    assert message.kind == fixture(name)["entry"][0]["changes"][0]["value"]["messages"][0]["type"]
    kept = {key: value for key, value in message.details.items() if key != "context"}
    assert kept == details


def test_a_reaction_is_a_reaction_not_text() -> None:
    [message] = parse_webhook(fixture("reaction")).messages
    assert (message.text, message.handling) == ("/reacted", Handling.BOT)
    assert set(message.details["reaction"]) == {"message_id", "emoji"}


def test_replies_keep_the_message_they_answer() -> None:
    [message] = parse_webhook(fixture("interactive_button_reply")).messages
    assert message.details["context"] == {
        "message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJBQkNERUYxMjM0NTY3ODkwAA==",
        "from": "15550783881",
    }


def test_rasa_metadata_names_the_channel_and_the_sender() -> None:
    [message] = parse_webhook(fixture("image")).messages
    metadata = message.rasa_metadata()
    assert metadata["channel"] == "whatsapp"
    assert metadata["wa_id"] == WA_ID
    assert metadata["profile_name"] == "Sheena Nelson"
    assert metadata["message_id"] == message.message_id
    assert metadata["timestamp"] == 1749416383.0
    assert metadata["customer_name"] == "Sheena Nelson"
    assert metadata["attachments"][0]["media_id"] == "1003383421387256"


@pytest.mark.parametrize(
    ("name", "status", "code", "title"),
    [
        ("status_sent", "sent", None, None),
        ("status_delivered", "delivered", None, None),
        ("status_read", "read", None, None),
        ("status_failed", "failed", 131047, "Re-engagement message"),
    ],
)
def test_each_status(name: str, status: str, code: int | None, title: str | None) -> None:
    batch = parse_webhook(fixture(name))
    assert batch.messages == []
    [update] = batch.statuses
    assert (update.status, update.error_code, update.error_title) == (status, code, title)
    assert update.recipient_id == WA_ID
    assert update.message_id.startswith("wamid.")


def test_every_entry_and_message_of_a_batch_is_returned() -> None:
    batch = parse_webhook(fixture("batch"))
    assert [(m.message_id, m.wa_id, m.profile_name) for m in batch.messages] == [
        ("wamid.batch1", WA_ID, "Sheena Nelson"),
        ("wamid.batch2", WA_ID, "Sheena Nelson"),
        ("wamid.batch3", "4915112345678", "Kai Müller"),
    ]
    assert [s.status for s in batch.statuses] == ["read"]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"entry": "nope"},
        {"entry": [{"changes": [{"field": "account_update", "value": {"messages": [{}]}}]}]},
        {"entry": [{"changes": [{"value": {"messages": [{"type": "text"}], "statuses": [{}]}}]}]},
    ],
    ids=["empty", "entry-not-a-list", "other-field", "items-without-ids"],
)
def test_odd_payloads_yield_nothing(payload: dict[str, Any]) -> None:
    batch = parse_webhook(payload)
    assert (batch.messages, batch.statuses) == ([], [])
