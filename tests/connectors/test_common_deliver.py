from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from rasa.core.agent import Agent
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered
from sanic import Sanic, response
from sanic.request import Request

from connectors.common.deliver import (
    DeliverError,
    DeliverRequest,
    customer_facing_text,
    parse_deliver_request,
    record_agent_line,
)
from tests.connectors import sanic_app, serving

TOKEN = "deliver-secret"
BODY = {
    "conversation_id": "conv-1",
    "channel": "whatsapp",
    "message_id": "hm-1",
    "author_type": "agent",
    "author_name": "Dana",
    "text": "Hi, Dana here.",
}


def deliver_app(agent: Agent | None) -> Sanic:
    app = sanic_app("deliver")
    app.ctx.agent = agent

    @app.post("/deliver")
    async def deliver(request: Request) -> response.HTTPResponse:
        try:
            req = parse_deliver_request(request, TOKEN)
        except DeliverError as error:
            return error.response()
        await record_agent_line(request, req, "wamid.out")
        return response.json({"status": "sent", "channel_message_id": "wamid.out"})

    return app


@pytest.fixture
def agent() -> Agent:
    domain = Domain.empty()
    return Agent(domain=domain, tracker_store=InMemoryTrackerStore(domain))


@pytest.fixture
async def url(agent: Agent) -> AsyncIterator[str]:
    async with serving(deliver_app(agent)) as base:
        yield base + "/deliver"


async def post(url: str, body: Any, token: str | None = TOKEN) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = body if isinstance(body, bytes) else None
    json_body = None if isinstance(body, bytes) else body
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=json_body, data=data, headers=headers) as answer,
    ):
        return answer.status, await answer.json()


async def test_a_valid_delivery_is_recorded_as_a_bot_event_with_its_author(
    url: str, agent: Agent
) -> None:
    status, body = await post(url, BODY)
    assert (status, body["status"]) == (200, "sent")
    tracker = await agent.tracker_store.retrieve("conv-1")
    assert tracker is not None
    bot_events = [e for e in tracker.events if isinstance(e, BotUttered)]
    assert [e.text for e in bot_events] == ["Hi, Dana here."]
    assert bot_events[0].metadata == {
        "author_type": "agent",
        "author_name": "Dana",
        "handoff_message_id": "hm-1",
        "channel_message_id": "wamid.out",
    }


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_a_missing_or_wrong_token_is_401_and_nothing_is_recorded(
    url: str, agent: Agent, token: str | None
) -> None:
    status, body = await post(url, BODY, token=token)
    assert (status, body["error"]) == (401, "unauthorized")
    assert await agent.tracker_store.retrieve("conv-1") is None


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "malformed_json"),
        ([BODY], "invalid_body"),
        ({**BODY, "text": ""}, "missing_field"),
        ({k: v for k, v in BODY.items() if k != "conversation_id"}, "missing_field"),
        ({**BODY, "author_type": "customer"}, "invalid_field"),
        ({**BODY, "author_name": 7}, "invalid_field"),
        (b"[" * 100_000 + b"]" * 100_000, "too_large"),
        (b'{"text": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", "too_deep"),
    ],
    ids=[
        "malformed",
        "array",
        "empty-text",
        "no-conversation",
        "customer",
        "name-not-text",
        "200-kB",
        "nested",
    ],
)
async def test_bad_bodies_are_400_with_a_message(
    url: str, agent: Agent, body: Any, error: str
) -> None:
    status, answer = await post(url, body)
    assert (status, answer["error"]) == (413 if error == "too_large" else 400, error)
    assert answer["message"]
    assert await agent.tracker_store.retrieve("conv-1") is None


async def test_without_a_rasa_agent_delivery_still_answers() -> None:
    async with serving(deliver_app(None)) as base:
        status, _ = await post(base + "/deliver", BODY)
    assert status == 200


@pytest.mark.parametrize(
    ("author_type", "author_name", "expected"),
    [
        ("agent", "Dana", "Dana (Lumen Home): Hello"),
        ("agent", None, "Agent (Lumen Home): Hello"),
        ("system", None, "Hello"),
    ],
)
def test_customer_facing_text(author_type: str, author_name: str | None, expected: str) -> None:
    req = DeliverRequest("c", "whatsapp", "m", author_type, author_name, "Hello")
    assert customer_facing_text(req) == expected
