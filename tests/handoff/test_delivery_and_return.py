"""Agent replies through the connector's deliver endpoint, and return to bot through Rasa's API,
each against a local server speaking the contract."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import replace

import aiohttp
import pytest

from handoff.app import create_app
from handoff.notices import notice as customer_notice
from handoff.roles import Role
from harness.handoff_data import make_agent, make_conversation
from harness.service import ApiClient, serving
from tests.handoff.conftest import DELIVERY_TOKEN
from tests.handoff.servers import fake_server


@pytest.fixture
def service_with(settings):
    """An API client for an app whose Rasa and connector live at `url`."""

    async def start(url: str, stack):
        app = create_app(replace(settings, delivery_url=url, rasa_url=url, rasa_token="rasa-t"))
        base = await stack.enter_async_context(serving(app))
        http = await stack.enter_async_context(aiohttp.ClientSession())
        return ApiClient(http, base)

    return start


NOTICE_SENT = (200, {"status": "sent"})  # the connector's answer to the "joined" notice
# An earlier call for the same line is still sending it: asked again, never counted as failed.
IN_PROGRESS = (409, {"error": "delivery_in_progress", "message": "still sending"})


async def claimed(api, sessions, **overrides):
    """Dana claims a new conversation; the customer is told she joined (one delivery)."""
    agent = await make_agent(sessions, name="Dana", **overrides)
    conversation = await make_conversation(sessions)
    await api.post(f"/api/v1/conversations/{conversation['id']}/claim", token=agent.token)
    return agent, conversation


@pytest.mark.parametrize(
    ("answers", "status", "error", "attempts"),
    [
        ([(200, {"status": "sent", "channel_message_id": "wamid.1"})], "sent", None, 1),
        ([(503, {}), (502, {}), (202, {"status": "queued"})], "sent", None, 3),
        (
            [(422, {"error": "window_closed", "message": "24-hour window closed"})],
            "failed",
            "24-hour window closed",
            1,
        ),
        ([(500, {})], "failed", "The channel could not be reached (HTTP 500).", 3),
        ([IN_PROGRESS, IN_PROGRESS, (200, {"status": "sent"})], "sent", None, 3),
        ([IN_PROGRESS], "pending", "The connector is still sending this line.", 11),
    ],
)
async def test_reply_is_stored_then_delivered(
    sessions, service_with, answers, status, error, attempts
):
    async with AsyncExitStack() as stack:
        connector = await stack.enter_async_context(fake_server([NOTICE_SENT, *answers]))
        api = await service_with(connector.url, stack)
        agent, conversation = await claimed(api, sessions)
        notice = connector.requests[0]
        assert (notice.body["author_type"], notice.body["text"]) == (
            "system",
            customer_notice("joined", "en", agent="Dana", brand="Lumen Home"),
        )
        url = f"/api/v1/conversations/{conversation['id']}"
        answer = await api.post(
            f"{url}/messages", json={"text": "Refund on its way"}, token=agent.token
        )
        assert answer.status == 201
        message = answer.body
        assert message["delivery_status"] == status
        assert message["delivery_error"] == error
        deliveries = connector.requests[1:]
        assert len(deliveries) == attempts
        request = deliveries[0]
        assert (request.method, request.path) == ("POST", "/webhooks/webchat/deliver")
        assert request.headers["Authorization"] == f"Bearer {DELIVERY_TOKEN}"
        assert request.body == {
            "conversation_id": conversation["conversation_id"],
            "channel": "webchat",
            "message_id": message["id"],
            "author_type": "agent",
            "author_name": "Dana",
            "text": "Refund on its way",
        }
        detail = (await api.get(url, token=agent.token)).body
        assert detail["messages"][-1] == message
        assert detail["first_response_at"] is not None
        if status == "sent":
            assert message["channel_message_id"] == answers[-1][1].get("channel_message_id")


async def test_first_response_time_is_the_first_reply(sessions, service_with):
    async with AsyncExitStack() as stack:
        connector = await stack.enter_async_context(fake_server([(200, {"status": "sent"})]))
        api = await service_with(connector.url, stack)
        agent, conversation = await claimed(api, sessions)
        url = f"/api/v1/conversations/{conversation['id']}"
        await api.post(f"{url}/messages", json={"text": "one"}, token=agent.token)
        first = (await api.get(url, token=agent.token)).body["first_response_at"]
        await api.post(f"{url}/messages", json={"text": "two"}, token=agent.token)
        assert (await api.get(url, token=agent.token)).body["first_response_at"] == first


async def test_return_to_bot_resumes_rasa_then_changes_state(sessions, service_with):
    async with AsyncExitStack() as stack:
        rasa = await stack.enter_async_context(fake_server([NOTICE_SENT, (200, {}), (200, {})]))
        api = await service_with(rasa.url, stack)
        agent, conversation = await claimed(api, sessions)
        url = f"/api/v1/conversations/{conversation['id']}/return-to-bot"
        answer = await api.post(url, token=agent.token)
        assert answer.status == 200
        assert answer.body["status"] == "bot" and answer.body["returned_to_bot_at"]
        sender = conversation["conversation_id"]
        # requests[0] is the "joined" notice: the connector lives on the same server as Rasa.
        assert [(r.method, r.path, r.query, r.body) for r in rasa.requests[1:]] == [
            (
                "POST",
                f"/conversations/{sender}/tracker/events",
                {"token": "rasa-t"},
                [
                    {"event": "resume"},
                    {"event": "slot", "name": "handoff_active", "value": False},
                    {"event": "action", "name": "action_listen"},
                ],
            ),
            (
                "POST",
                f"/conversations/{sender}/trigger_intent",
                {"output_channel": "latest", "token": "rasa-t"},
                {"name": "handoff_ended"},
            ),
        ]


async def test_rasa_refusing_leaves_the_conversation_assigned(sessions, service_with):
    async with AsyncExitStack() as stack:
        rasa = await stack.enter_async_context(fake_server([(404, {"message": "no tracker"})]))
        api = await service_with(rasa.url, stack)
        agent, conversation = await claimed(api, sessions, role=Role.AGENT)
        url = f"/api/v1/conversations/{conversation['id']}"
        answer = await api.post(f"{url}/return-to-bot", token=agent.token)
        assert answer.status == 502 and answer.body["error"] == "rasa_unavailable"
        assert (await api.get(url, token=agent.token)).body["status"] == "assigned"


async def test_notices_are_in_the_customer_s_language(sessions, service_with):
    async with AsyncExitStack() as stack:
        connector = await stack.enter_async_context(fake_server([NOTICE_SENT, NOTICE_SENT]))
        api = await service_with(connector.url, stack)
        agent = await make_agent(sessions, name="Dana")
        conversation = await make_conversation(
            sessions, conversation_id="sender-de", customer={"id": "sender-de", "language": "de-DE"}
        )
        url = f"/api/v1/conversations/{conversation['id']}"
        assert (await api.post(f"{url}/claim", token=agent.token)).status == 200
        assert (await api.post(f"{url}/resolve", token=agent.token)).status == 200

    said = [request.body["text"] for request in connector.requests]
    in_german = [
        customer_notice(name, "de", agent="Dana", brand="Lumen Home")
        for name in ("joined", "closed")
    ]
    assert said == in_german
    assert said[0] != customer_notice("joined", "en", agent="Dana", brand="Lumen Home")
