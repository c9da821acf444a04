"""Delivery statuses from the connectors (POST /api/v1/deliveries): forward only, failed is final,
unknown lines ignored, service token only, and the agent sees the change live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import pytest

from handoff.app import create_app
from harness.handoff_data import AgentLogin, make_agent, make_conversation
from harness.service import ApiClient, serving
from tests.handoff.conftest import API_TOKEN
from tests.handoff.servers import fake_server

NOTICE_ID, REPLY_ID = "wamid.notice", "wamid.reply"


@dataclass
class Delivered:
    """An assigned conversation with a delivered "joined" notice and a delivered agent reply."""

    api: ApiClient
    agent: AgentLogin
    conversation: dict[str, Any]

    async def report(self, *statuses: dict[str, Any], token: str | None = API_TOKEN):
        body: Any = statuses[0] if len(statuses) == 1 else list(statuses)
        return await self.api.post("/api/v1/deliveries", json=body, token=token)

    async def line(self, channel_message_id: str = REPLY_ID) -> dict[str, Any]:
        url = f"/api/v1/conversations/{self.conversation['id']}"
        detail = (await self.api.get(url, token=self.agent.token)).body
        [line] = [m for m in detail["messages"] if m["channel_message_id"] == channel_message_id]
        return line

    def status(self, status: str, **changes: Any) -> dict[str, Any]:
        return {
            "channel": "whatsapp",
            "conversation_id": self.conversation["conversation_id"],
            "channel_message_id": REPLY_ID,
            "status": status,
            "error": None,
            "at": "2026-11-23T10:05:00.000Z",
            **changes,
        }


@pytest.fixture
async def delivered(settings, sessions) -> AsyncIterator[Delivered]:
    answers = [
        (200, {"status": "sent", "channel_message_id": NOTICE_ID}),
        (200, {"status": "sent", "channel_message_id": REPLY_ID}),
    ]
    async with AsyncExitStack() as stack:
        connector = await stack.enter_async_context(fake_server(answers))
        app = create_app(replace(settings, delivery_url=connector.url))
        http = await stack.enter_async_context(aiohttp.ClientSession())
        api = ApiClient(http, await stack.enter_async_context(serving(app)))
        agent = await make_agent(sessions, name="Dana")
        conversation = await make_conversation(sessions, channel="whatsapp")
        url = f"/api/v1/conversations/{conversation['id']}"
        await api.post(f"{url}/claim", token=agent.token)
        reply = await api.post(f"{url}/messages", json={"text": "Refund sent"}, token=agent.token)
        assert reply.body["delivery_status"] == "sent"
        yield Delivered(api, agent, conversation)


async def test_statuses_only_move_a_line_forward(delivered: Delivered) -> None:
    seen = []
    for status in ("delivered", "sent", "read", "delivered", "sent"):
        answer = await delivered.report(delivered.status(status))
        assert answer.status == 200
        seen.append((answer.body["updated"], (await delivered.line())["delivery_status"]))
    assert seen == [(1, "delivered"), (0, "delivered"), (1, "read"), (0, "read"), (0, "read")]
    assert (await delivered.line(NOTICE_ID))["delivery_status"] == "sent"  # other lines untouched


async def test_a_list_of_statuses_in_any_order_ends_at_the_furthest(delivered: Delivered) -> None:
    answer = await delivered.report(
        delivered.status("read"),
        delivered.status("delivered", channel_message_id=NOTICE_ID),
        delivered.status("delivered"),
    )
    assert (answer.status, answer.body) == (200, {"updated": 2})
    assert (await delivered.line())["delivery_status"] == "read"
    assert (await delivered.line(NOTICE_ID))["delivery_status"] == "delivered"


async def test_failed_is_final_and_keeps_the_reason(delivered: Delivered) -> None:
    reason = "Re-engagement message (WhatsApp error 131047)"
    await delivered.report(delivered.status("delivered"))
    answer = await delivered.report(delivered.status("failed", error=reason))
    assert (answer.status, answer.body) == (200, {"updated": 1})
    for status in ("read", "failed"):
        later = await delivered.report(delivered.status(status, error="something else"))
        assert later.body == {"updated": 0}
    line = await delivered.line()
    assert (line["delivery_status"], line["delivery_error"]) == ("failed", reason)


@pytest.mark.parametrize(
    "changes",
    [
        {"channel_message_id": "wamid.not-ours-yet"},
        {"conversation_id": "someone-else"},
    ],
    ids=["unknown-message", "other-conversation"],
)
async def test_a_status_for_an_unknown_line_is_accepted_and_ignored(
    delivered: Delivered, changes: dict[str, Any]
) -> None:
    answer = await delivered.report(delivered.status("read", **changes))
    assert (answer.status, answer.body) == (202, {"updated": 0})
    assert (await delivered.line())["delivery_status"] == "sent"


async def test_a_customer_line_never_gets_a_delivery_status(delivered: Delivered) -> None:
    url = f"/api/v1/conversations/{delivered.conversation['id']}"
    detail = (await delivered.api.get(url, token=delivered.agent.token)).body
    customer = next(m for m in detail["messages"] if m["author_type"] == "customer")
    status = delivered.status("read", channel_message_id=customer["channel_message_id"])
    assert (await delivered.report(status)).status == 202
    detail = (await delivered.api.get(url, token=delivered.agent.token)).body
    assert next(m for m in detail["messages"] if m["id"] == customer["id"]) == customer


@pytest.mark.parametrize("token", [None, "wrong-token", "agent"])
async def test_only_the_service_token_may_report(delivered: Delivered, token: str | None) -> None:
    token = delivered.agent.token if token == "agent" else token
    answer = await delivered.report(delivered.status("read"), token=token)
    assert (answer.status, answer.body["error"]) == (401, "unauthorized")
    assert (await delivered.line())["delivery_status"] == "sent"


@pytest.mark.parametrize("body", [[], "read", [1, 2], {}], ids=["empty", "text", "ints", "{}"])
async def test_bodies_of_the_wrong_shape_are_400(delivered: Delivered, body: Any) -> None:
    answer = await delivered.api.post("/api/v1/deliveries", json=body, token=API_TOKEN)
    assert (answer.status, set(answer.body)) == (400, {"error", "message"})


@pytest.mark.parametrize(
    ("field", "value", "status"),
    [
        ("status", None, 400),
        ("at", None, 400),
        ("conversation_id", "", 400),
        ("status", "seen", 422),
        ("at", "yesterday", 422),
        ("at", 1732352760, 422),
        ("error", {"code": 131047}, 422),
        ("channel_message_id", 42, 422),
    ],
)
async def test_one_bad_status_in_a_list_changes_nothing(
    delivered: Delivered, field: str, value: Any, status: int
) -> None:
    bad = {**delivered.status("read"), field: value}
    answer = await delivered.report(delivered.status("delivered"), bad)
    assert answer.status == status
    assert field in answer.body["message"]
    assert (await delivered.line())["delivery_status"] == "sent"


async def test_malformed_json_is_400(delivered: Delivered) -> None:
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    answer = await delivered.api.post("/api/v1/deliveries", data="{not json", headers=headers)
    assert (answer.status, set(answer.body)) == (400, {"error", "message"})


async def test_the_agent_sees_the_new_status_live(delivered: Delivered) -> None:
    async with delivered.api.ws(delivered.agent.token) as ws:
        assert (await asyncio.wait_for(ws.receive_json(), timeout=10))["type"] == "hello"
        await delivered.report(delivered.status("failed", error="Number not on WhatsApp"))
        event = await asyncio.wait_for(ws.receive_json(), timeout=10)
    assert event["type"] == "message.updated"
    assert event["conversation"]["id"] == delivered.conversation["id"]
    assert event["message"] == await delivered.line()
    assert (event["message"]["delivery_status"], event["message"]["delivery_error"]) == (
        "failed",
        "Number not on WhatsApp",
    )
