"""The customer's presence from the web chat (POST /api/v1/customer-activity): service token
only, the newest report wins, the agent sees it live and in the conversation detail."""

from __future__ import annotations

from typing import Any

import pytest

from harness.handoff_data import AgentLogin, make_agent, make_conversation
from harness.service import ApiClient
from tests.handoff.conftest import API_TOKEN
from tests.handoff.test_live import next_event

URL = "/api/v1/customer-activity"


def activity(conversation: dict[str, Any], state: str, at: str, **changes: Any) -> dict[str, Any]:
    return {
        "channel": "webchat",
        "conversation_id": conversation["conversation_id"],
        "state": state,
        "at": at,
        **changes,
    }


async def shown(client: ApiClient, agent: AgentLogin, conversation: dict[str, Any]) -> Any:
    detail = await client.get(f"/api/v1/conversations/{conversation['id']}", token=agent.token)
    assert detail.status == 200
    return detail.body["customer_activity"]


async def test_the_agent_sees_the_customer_online_typing_and_gone_live(client, sessions):
    agent = await make_agent(sessions)
    conversation = await make_conversation(sessions, channel="webchat")
    assert await shown(client, agent, conversation) is None
    async with client.ws(agent.token) as ws:
        await next_event(ws, "hello")
        events = []
        for state, at in [
            ("online", "2026-11-23T10:00:00.000Z"),
            ("typing", "2026-11-23T10:00:04.250Z"),
            ("left", "2026-11-23T10:03:00.000Z"),
        ]:
            answer = await client.post(URL, json=activity(conversation, state, at), token=API_TOKEN)
            assert (answer.status, answer.body) == (200, {"applied": True})
            events.append(await next_event(ws, "customer.activity"))
    assert events == [
        {
            "type": "customer.activity",
            "conversation_id": conversation["id"],
            "customer_activity": {"state": state, "at": at},
        }
        for state, at in [
            ("online", "2026-11-23T10:00:00.000Z"),
            ("typing", "2026-11-23T10:00:04.250Z"),
            ("left", "2026-11-23T10:03:00.000Z"),
        ]
    ]
    assert await shown(client, agent, conversation) == {
        "state": "left",
        "at": "2026-11-23T10:03:00.000Z",
    }


async def test_a_report_that_crossed_a_newer_one_is_accepted_and_ignored(client, sessions):
    agent = await make_agent(sessions)
    conversation = await make_conversation(sessions, channel="webchat")
    newer = activity(conversation, "online", "2026-11-23T10:00:09.000Z")
    older = activity(conversation, "typing", "2026-11-23T10:00:05.000Z")
    assert (await client.post(URL, json=newer, token=API_TOKEN)).status == 200
    for repeated in (older, newer):
        answer = await client.post(URL, json=repeated, token=API_TOKEN)
        assert (answer.status, answer.body) == (202, {"applied": False})
    assert await shown(client, agent, conversation) == {"state": "online", "at": newer["at"]}


async def test_a_report_for_an_unknown_conversation_is_accepted_and_ignored(client, sessions):
    agent = await make_agent(sessions)
    conversation = await make_conversation(sessions, channel="webchat")
    stranger = {**conversation, "conversation_id": "2d0c1f4e-no-such-conversation"}
    known = activity(conversation, "online", "2026-11-23T10:00:01.000Z")
    async with client.ws(agent.token) as ws:
        await next_event(ws, "hello")
        answer = await client.post(
            URL, json=activity(stranger, "online", "2026-11-23T10:00:00Z"), token=API_TOKEN
        )
        assert (answer.status, answer.body) == (202, {"applied": False})
        assert (await client.post(URL, json=known, token=API_TOKEN)).status == 200
        event = await next_event(ws, "customer.activity")  # the ignored one was not published
    assert event["conversation_id"] == conversation["id"]
    assert await shown(client, agent, conversation) == {"state": "online", "at": known["at"]}


@pytest.mark.parametrize("token", [None, "wrong-token", "agent"])
async def test_only_the_service_token_may_report(client, sessions, token: str | None) -> None:
    agent = await make_agent(sessions)
    conversation = await make_conversation(sessions, channel="webchat")
    sent = agent.token if token == "agent" else token
    body = activity(conversation, "typing", "2026-11-23T10:00:00.000Z")
    answer = await client.post(URL, json=body, token=sent)
    assert (answer.status, answer.body["error"]) == (401, "unauthorized")
    assert await shown(client, agent, conversation) is None


@pytest.mark.parametrize(
    ("field", "value", "status", "code"),
    [
        ("state", None, 400, "missing_field"),
        ("at", None, 400, "missing_field"),
        ("conversation_id", " ", 400, "missing_field"),
        ("state", "away", 422, "invalid_activity"),
        ("channel", "sms", 422, "invalid_channel"),
        ("at", "a minute ago", 422, "invalid_field"),
        ("at", 1795428000, 422, "invalid_field"),
        ("conversation_id", "x" * 256, 422, "invalid_field"),
    ],
)
async def test_a_bad_field_is_refused_naming_it(
    client, sessions, field: str, value: Any, status: int, code: str
) -> None:
    agent = await make_agent(sessions)
    conversation = await make_conversation(sessions, channel="webchat")
    body = {**activity(conversation, "online", "2026-11-23T10:00:00.000Z"), field: value}
    answer = await client.post(URL, json=body, token=API_TOKEN)
    assert (answer.status, answer.body["error"]) == (status, code)
    assert field in answer.body["message"]
    assert await shown(client, agent, conversation) is None


@pytest.mark.parametrize("raw", ["{not json", "[]", '"online"'], ids=["malformed", "list", "text"])
async def test_a_body_that_is_not_an_activity_object_is_400(client, raw: str) -> None:
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    answer = await client.post(URL, data=raw, headers=headers)
    assert (answer.status, set(answer.body)) == (400, {"error", "message"})
