"""The agents' websocket: handoff.created after an intake, message.created after a customer
event stored while an agent owns the conversation; bad tokens are turned away."""

from __future__ import annotations

import asyncio
import time
import uuid

import aiohttp

from handoff.notices import notice as customer_notice
from harness.handoff_data import handoff_body, make_agent, user_event
from tests.handoff.conftest import API_TOKEN


async def next_event(ws, kind: str) -> dict:
    while True:
        event = await asyncio.wait_for(ws.receive_json(), timeout=10)
        if event["type"] == kind:
            return event


async def test_agent_sees_handoffs_and_customer_messages_live(client, sessions, app):
    agent = await make_agent(sessions)
    async with client.ws(agent.token) as ws:
        assert (await next_event(ws, "hello"))["agent"]["id"] == agent.id
        body = handoff_body()
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        created = await client.post("/api/v1/handoffs", json=body, token=API_TOKEN, headers=headers)
        event = await next_event(ws, "handoff.created")
        assert event["conversation"]["id"] == created.body["id"]

        conversation_url = f"/api/v1/conversations/{created.body['id']}"
        await client.post(f"{conversation_url}/claim", token=agent.token)
        assert (await next_event(ws, "conversation.claimed"))["conversation"][
            "status"
        ] == "assigned"
        notice = (await next_event(ws, "message.created"))["message"]
        assert (notice["author_type"], notice["text"]) == (
            "system",
            customer_notice("joined", "en", agent=agent.name, brand="Lumen Home"),
        )

        sender = body["conversation_id"]
        await app.ctx.sink.store([user_event(sender, "are you there?", time.time(), "m-live")])
        event = await next_event(ws, "message.created")
        assert event["message"]["text"] == "are you there?"
        assert event["message"]["author_type"] == "customer"
        assert event["conversation"]["last_message"]["text"] == "are you there?"


async def test_bad_token_closes_the_socket(client):
    async with client.ws("not-a-token") as ws:
        message = await asyncio.wait_for(ws.receive(), timeout=10)
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == 4401
