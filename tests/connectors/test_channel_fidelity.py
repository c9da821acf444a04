"""What customers send that is not typed text, through the one Meta webhook base, per channel.

Fixtures are our own, shaped after Meta's webhook references (tests/fixtures/whatsapp|messenger).
A message with no text of its own must reach Rasa as what it is (an intent message with its
content in the metadata, `connectors.common.attachments`), never as text to classify.
"""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import pytest

from tests.connectors.test_messenger_channel import PSID, Harness, fixture, harness
from tests.connectors.test_whatsapp_channel import WA_ID, Bench, bench, fixture_bytes, graph
from tests.connectors.test_whatsapp_deliver import Desk, line

__all__ = ["bench", "graph", "harness"]  # the fixtures this module uses

NEW_NUMBER = "16505559876"
DELIVER_TOKEN = "deliver-secret"


def whatsapp_message(name: str) -> dict[str, Any]:
    return json.loads(fixture_bytes(name))["entry"][0]["changes"][0]["value"]["messages"][0]


async def get(url: str, token: str | None = DELIVER_TOKEN) -> tuple[int, str, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as answer:
        return answer.status, answer.content_type, await answer.read()


# WhatsApp


@pytest.mark.parametrize(
    ("name", "text", "kind"),
    [
        ("voice_note", '/shared_attachment{"attachment_kind": "voice"}', "voice"),
        ("audio_file", '/shared_attachment{"attachment_kind": "audio"}', "audio"),
        ("location_unnamed", '/shared_attachment{"attachment_kind": "location"}', "location"),
        ("contacts", '/shared_attachment{"attachment_kind": "contact"}', "contact"),
        ("sticker", '/shared_attachment{"attachment_kind": "sticker"}', "sticker"),
        ("document", "My invoice", "file"),  # a caption is what the customer wrote
    ],
)
async def test_whatsapp_attachments_reach_rasa_as_attachments(
    bench: Bench, name: str, text: str, kind: str
) -> None:
    assert (await bench.deliver(fixture_bytes(name)))[0] == 200
    [message] = bench.received
    assert message.text == text
    [item] = message.metadata["attachments"]
    assert item["kind"] == kind
    assert message.metadata["customer_name"] == "Sheena Nelson"
    if kind == "location":
        assert (item["latitude"], item["longitude"], item["name"]) == (52.5163, 13.3777, None)
    elif kind == "contact":
        assert item["contact"]["phones"] == ["+1 (650) 555-1234"]
    else:
        assert item["media_id"] == whatsapp_message(name)[name_type(name)]["id"]


def name_type(name: str) -> str:
    return str(whatsapp_message(name)["type"])


async def test_a_deleted_message_is_a_notice_for_the_agent(bench: Bench) -> None:
    await bench.deliver(fixture_bytes("revoke"))
    [message] = bench.received
    assert message.text == "/channel_notice"
    assert message.metadata["system_notice"] == {
        "kind": "message_deleted",
        "text": "The customer deleted a message.",
    }
    assert message.metadata["original_message_id"] == "wamid.fidelity.text1"
    assert [body["text"]["body"] for body in bench.graph.sent] == ["🤖 You said /channel_notice"]


async def test_an_edit_is_the_new_text_marked_as_an_edit(bench: Bench) -> None:
    await bench.deliver(fixture_bytes("edit"))
    [message] = bench.received
    assert message.text == "My hub is offline since Monday, not Sunday"
    assert message.metadata["edit_of"] == "wamid.fidelity.text1"
    assert message.metadata["system_notice"]["kind"] == "message_edited"


async def test_a_flow_submission_keeps_the_form_answers(bench: Bench) -> None:
    await bench.deliver(fixture_bytes("flow_reply"))
    [message] = bench.received
    assert message.text == "/form_submitted"
    assert message.metadata["form_response"] == {
        "name": "flow",
        "answers": {
            "flow_token": "lumen-visit-7f3a",
            "preferred_day": "Tuesday",
            "device": "Thermostat T2",
        },
    }


async def test_an_identity_change_is_a_notice(bench: Bench) -> None:
    await bench.deliver(fixture_bytes("system_identity_change"))
    [message] = bench.received
    assert message.text == "/channel_notice"
    assert message.metadata["system_notice"] == {
        "kind": "identity_changed",
        "text": "Sheena Nelson's security code changed",
    }


async def test_a_removed_reaction_has_an_empty_emoji(bench: Bench) -> None:
    await bench.deliver(fixture_bytes("reaction_removed"))
    [message] = bench.received
    assert message.metadata["reaction"] == {"message_id": "wamid.fidelity.bot1", "emoji": ""}


async def test_a_message_for_another_business_number_is_left_alone(bench: Bench) -> None:
    assert (await bench.deliver(fixture_bytes("other_business_number")))[0] == 200
    assert (bench.received, bench.graph.sent) == ([], [])


async def test_after_a_number_change_the_conversation_continues_on_the_new_number(
    bench: Bench,
) -> None:
    await bench.deliver(fixture_bytes("system_number_change"))
    await bench.deliver(fixture_bytes("from_new_number"))
    notice, message = bench.received
    assert notice.metadata["system_notice"]["kind"] == "number_changed"
    assert notice.metadata["new_wa_id"] == NEW_NUMBER
    assert message.sender_id == WA_ID  # the same conversation
    # the bot's answers and an agent's line go to the new number
    assert [body["to"] for body in bench.graph.sent] == [NEW_NUMBER, NEW_NUMBER]
    await bench.channel.state.record_inbound(WA_ID, time.time())  # the fixtures are old
    desk = Desk(bench.url, bench.channel, agent=None, graph=bench.graph)  # no tracker here
    status, _ = await desk.send(line("hm-number-change", text="Got your new number, thanks."))
    assert status == 200
    assert bench.graph.sent[-1]["to"] == NEW_NUMBER
    assert bench.graph.sent[-1]["text"]["body"] == "Dana (Lumen Home): Got your new number, thanks."


async def test_whatsapp_media_is_served_to_the_delivery_token_only(bench: Bench) -> None:
    media_id = whatsapp_message("voice_note")["audio"]["id"]
    bench.graph.add_media(media_id, b"OggS voice note bytes", "audio/ogg")
    url = f"{bench.url}/webhooks/whatsapp/media/{media_id}"
    assert await get(url) == (200, "audio/ogg", b"OggS voice note bytes")
    assert (await get(url, token=None))[0] == 401
    assert (await get(url, token="guess"))[0] == 401
    assert (await get(f"{bench.url}/webhooks/whatsapp/media/404404"))[0] == 404


# Messenger


@pytest.mark.parametrize(
    ("name", "kinds"),
    [
        ("attachment_image", ["image"]),
        ("attachment_video", ["video"]),
        ("attachment_audio", ["audio"]),
        ("attachment_file", ["file"]),
        ("attachment_location", ["location"]),
        ("attachment_sticker", ["sticker"]),
        ("attachment_link_only", ["link"]),
        ("attachments_two_images", ["image", "image"]),
    ],
)
async def test_messenger_attachments_reach_rasa_as_attachments_not_empty_text(
    harness: Harness, name: str, kinds: list[str]
) -> None:
    assert (await harness.post(fixture(name)))[0] == 200
    [message] = harness.received
    assert message.text == f'/shared_attachment{{"attachment_kind": "{kinds[0]}"}}'
    assert [item["kind"] for item in message.metadata["attachments"]] == kinds


async def test_a_messenger_reaction_and_its_removal(harness: Harness) -> None:
    await harness.post(fixture("reaction"))
    await harness.post(fixture("reaction_removed"))
    added, removed = harness.received
    assert (added.text, removed.text) == ("/reacted", "/reacted")
    assert added.metadata["reaction"]["emoji"] == "❤️"
    assert removed.metadata["reaction"] == {
        "message_id": "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_delivered",
        "emoji": "",
    }


async def test_the_messenger_name_is_fetched_once_and_sent_as_customer_name(
    harness: Harness,
) -> None:
    harness.graph.profiles[PSID] = "Ana Silva"
    await harness.post(fixture("text"))
    await harness.post(fixture("quick_reply"))
    assert [m.metadata["customer_name"] for m in harness.received] == ["Ana Silva"] * 2
    assert len([r for r in harness.graph.requests if r.path.endswith(f"/{PSID}")]) == 1


async def test_without_the_profile_permission_there_is_no_name(harness: Harness) -> None:
    await harness.post(fixture("text"))
    [message] = harness.received
    assert message.metadata["customer_name"] is None


async def test_messenger_media_is_served_from_the_url_meta_gave(harness: Harness) -> None:
    url = harness.graph.add_media("hub-photo", b"\x89PNG photo bytes", "image/png")
    event = {
        "sender": {"id": PSID},
        "recipient": {"id": "106540352242922"},
        "timestamp": int(time.time() * 1000),
        "message": {"mid": "m_photo", "attachments": [{"type": "image", "payload": {"url": url}}]},
    }
    body = {"object": "page", "entry": [{"id": "106540352242922", "messaging": [event]}]}
    await harness.post(json.dumps(body).encode())
    [message] = harness.received
    media_id = message.metadata["attachments"][0]["media_id"]
    assert media_id == "m_photo.0"
    media_url = f"{harness.url}/media/{media_id}"
    assert await get(media_url) == (200, "image/png", b"\x89PNG photo bytes")
    assert (await get(media_url, token=None))[0] == 401
    assert (await get(f"{harness.url}/media/m_unknown.0"))[0] == 404
    # the page token never goes to the CDN
    [download] = [r for r in harness.graph.requests if r.path == "/cdn/hub-photo"]
    assert "Authorization" not in download.headers
