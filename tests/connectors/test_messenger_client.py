"""The Send API client and the Rasa output channel against the local Graph API stand-in.

`messenger_graph` adds the Send API route (``POST /<version>/me/messages``) to the shared
stand-in (tools/simulator/graph_api.py); the channel tests use it too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from connectors.common.graph import GraphApiError
from connectors.messenger.client import MessengerClient, quick_replies, split_text
from connectors.messenger.output import MessengerOutput
from tools.simulator.graph_api import GraphApiStandIn, GraphError

TOKEN = "page-token"
PSID = "6543210987654321"
UNAVAILABLE = GraphError(400, 551, "This person isn't available right now.")


@asynccontextmanager
async def messenger_graph() -> AsyncIterator[GraphApiStandIn]:
    """The stand-in answering Send API calls as Meta does; its graph_url is `url + "/v21.0"`."""

    async def send_api(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        answer = {"recipient_id": body["recipient"]["id"]}
        if "message" in body:
            answer["message_id"] = graph.new_id("m_")
        return answer

    route = ("POST", "/{version}/me/messages", send_api)
    async with GraphApiStandIn(access_token=TOKEN, routes=[route]) as graph:
        yield graph


def sent_messages(graph: GraphApiStandIn) -> list[dict[str, Any]]:
    return [body for body in graph.sent if "message" in body]


def sent_texts(graph: GraphApiStandIn) -> list[str]:
    return [m["message"]["text"] for m in sent_messages(graph) if "text" in m["message"]]


@pytest.fixture
async def graph() -> AsyncIterator[tuple[GraphApiStandIn, MessengerClient]]:
    async with messenger_graph() as stand_in:
        client = MessengerClient(TOKEN, stand_in.url + "/v21.0")
        yield stand_in, client
        await client.close()


async def test_a_text_reply_is_a_response_to_the_customer(graph: Any) -> None:
    stand_in, client = graph
    assert await client.send_text(PSID, "Hello there") == ["m_standin1"]
    (request,) = stand_in.requests
    assert request.path == "/v21.0/me/messages"
    assert stand_in.sent == [
        {
            "recipient": {"id": PSID},
            "messaging_type": "RESPONSE",
            "message": {"text": "Hello there", "metadata": "care-handoff"},
        }
    ]


async def test_long_text_is_split_and_quick_replies_go_with_the_last_part(graph: Any) -> None:
    stand_in, client = graph
    paragraph = "The thermostat restarts when its firmware update fails. " * 20
    text = "\n\n".join([paragraph.strip()] * 4)  # about 4,500 characters
    replies = quick_replies([{"title": "Yes", "payload": "/affirm"}])
    await client.send_text(PSID, text, quick_replies=replies)
    assert len(sent_messages(stand_in)) == 3
    assert all(len(t) <= 2000 for t in sent_texts(stand_in))
    assert " ".join(sent_texts(stand_in)).split() == text.split()  # nothing lost
    assert ["quick_replies" in m["message"] for m in sent_messages(stand_in)] == [
        False,
        False,
        True,
    ]


def test_text_without_spaces_is_cut_hard_at_the_limit() -> None:
    assert [len(p) for p in split_text("x" * 4100)] == [2000, 2000, 100]


def test_buttons_become_at_most_13_quick_replies_with_short_titles() -> None:
    buttons = [{"title": f"Option number {i} is long", "payload": f"/pick{i}"} for i in range(15)]
    replies = quick_replies(buttons)
    assert len(replies) == 13
    assert replies[0] == {
        "content_type": "text",
        "title": "Option number 0 is…",
        "payload": "/pick0",
    }
    assert all(len(r["title"]) <= 20 for r in replies)


async def test_the_typing_indicator_is_a_sender_action(graph: Any) -> None:
    stand_in, client = graph
    await client.send_action(PSID, "typing_on")
    assert stand_in.sent == [{"recipient": {"id": PSID}, "sender_action": "typing_on"}]


async def test_a_graph_error_carries_metas_message(graph: Any) -> None:
    stand_in, client = graph
    stand_in.fail_next(UNAVAILABLE)
    with pytest.raises(GraphApiError) as raised:
        await client.send_text(PSID, "hi")
    assert (raised.value.http_status, raised.value.code) == (400, 551)
    assert not raised.value.transient
    assert "isn't available" in raised.value.title
    assert len(stand_in.requests) == 1  # refused: not retried


async def test_an_unreachable_graph_is_a_retryable_error_without_the_token() -> None:
    async with messenger_graph() as stand_in:
        pass  # the server is gone now: its port refuses connections
    client = MessengerClient(TOKEN, stand_in.url + "/v21.0", attempts=2, backoff_seconds=0)
    with pytest.raises(GraphApiError) as raised:
        await client.send_text(PSID, "hi")
    await client.close()
    assert raised.value.transient
    assert TOKEN not in str(raised.value)


async def test_the_output_channel_marks_bot_lines_and_maps_buttons(graph: Any) -> None:
    stand_in, client = graph
    output = MessengerOutput(client, "🤖 ")
    await output.send_response(
        PSID,
        {
            "text": "Do you want to wait for a person?",
            "buttons": [{"title": "I'll stay and chat now", "payload": "/stay_and_chat"}],
        },
    )
    await output.send_response(PSID, {"text": "Back to you", "author_type": "agent"})
    first, second = (m["message"] for m in sent_messages(stand_in))
    assert first["text"] == "🤖 Do you want to wait for a person?"
    assert first["quick_replies"] == [
        {"content_type": "text", "title": "I'll stay and chat…", "payload": "/stay_and_chat"}
    ]
    assert second["text"] == "Back to you"


async def test_the_bot_marker_can_be_turned_off(graph: Any) -> None:
    stand_in, client = graph
    await MessengerOutput(client, "").send_response(PSID, {"text": "Hi"})
    assert sent_texts(stand_in) == ["Hi"]
