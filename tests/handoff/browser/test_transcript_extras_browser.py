"""The console shows what customers send besides text: photos (opened through the service and
the connector), locations, contact cards, a reaction on the line it reacts to, channel notices."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from contracts.values import format_time
from tests.handoff.browser.console_page import ConsolePage
from tests.handoff.browser.factories import handoff_request
from tests.handoff.browser.servers import DELIVERY_TOKEN, DeliveryEndpoint, HandoffService

pytestmark = pytest.mark.slow

DANA = "dana@lumen.example"
PNG = b"\x89PNG\r\n\x1a\n a tiny picture"


def transcript(conversation_id: str) -> list[dict[str, object]]:
    now = datetime.now(timezone.utc)

    def line(seconds_ago: int, message_id: str, **fields: object) -> dict[str, object]:
        at = format_time(now - timedelta(seconds=seconds_ago))
        return {
            "author_type": "customer",
            "text": "",
            "timestamp": at,
            **fields,
            "message_id": f"{conversation_id}-{message_id}",
            "channel": "whatsapp",
        }

    return [
        line(60, "1", text="My front door lock is broken"),
        line(
            50,
            "2",
            attachments=[{"kind": "image", "media_id": "media-1", "caption": "the broken lock"}],
        ),
        line(
            40,
            "3",
            attachments=[
                {"kind": "location", "latitude": 52.52, "longitude": 13.405, "name": "Home"},
                {
                    "kind": "contact",
                    "contact": {"name": "Sam Okafor", "phones": ["+4915112345678"]},
                },
            ],
        ),
        line(30, "4", reaction={"message_id": f"{conversation_id}-1", "emoji": "👍"}),
        line(
            20,
            "5",
            author_type="system",
            text="The customer deleted a message.",
            system_notice={"kind": "deleted", "text": "The customer deleted a message."},
        ),
    ]


def test_attachments_reactions_and_notices_in_the_transcript(
    service: HandoffService, delivery: DeliveryEndpoint, open_console: Callable[[], ConsolePage]
) -> None:
    delivery.media["media-1"] = PNG
    request = handoff_request(channel="whatsapp")
    request["transcript"] = transcript(request["conversation_id"])
    conversation = service.intake(request)
    console = open_console()
    console.log_in_and_wait(DANA, service.passwords[DANA])

    console.open(conversation["id"])
    lines = console.transcript()

    assert [line.author for line in lines] == ["customer", "customer", "customer", "system"]
    first, photo, places, notice = lines
    assert first.text == "My front door lock is broken" and "👍" in first.foot
    assert "Photo: the broken lock" in photo.text and "Open" in photo.text
    assert "Location: Home 52.52, 13.405" in places.text
    assert "Contact: Sam Okafor · +4915112345678" in places.text
    assert "The customer deleted a message." in notice.text
    console.screenshot("attachments")

    console.find('#transcript li[data-author="customer"] .attachment button').click()
    console.until(lambda: delivery.media_requests, "the photo was not fetched from the connector")
    fetched = ("/webhooks/whatsapp/media/media-1", f"Bearer {DELIVERY_TOKEN}")
    assert delivery.media_requests == [fetched]
