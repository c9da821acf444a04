"""The actions a conversation's view offers each viewer are exactly what the service lets them
do: what is offered succeeds, what is not offered is refused and changes nothing."""

from __future__ import annotations

import pytest

from handoff.roles import Role
from harness.handoff_data import make_agent, make_conversation

CONV = "/api/v1/conversations"
# How the API does each action that needs no further input.
REQUESTS = {
    "claim": ("claim", None),
    "release": ("release", None),
    "resolve": ("resolve", None),
    "switch_mode": ("mode", {"mode": "async", "tell_customer": False}),
}


async def viewers(sessions):
    return {
        "owner": await make_agent(sessions, name="Dana"),
        "agent": await make_agent(sessions, name="Lee"),
        "supervisor": await make_agent(sessions, name="Sam", role=Role.SUPERVISOR),
    }


async def test_the_console_learns_who_it_is_from_the_service(client, sessions):
    people = await viewers(sessions)
    assert (await client.get("/api/v1/me", token=people["agent"].token)).body["viewer"] == "agent"
    me = await client.get("/api/v1/me", token=people["supervisor"].token)
    assert me.body["viewer"] == "supervisor"


async def test_a_queued_conversation_offers_a_claim_to_everyone_and_more_to_supervisors(
    client, sessions
):
    people = await viewers(sessions)
    conversation = await make_conversation(sessions, mode="sync")
    view = (await client.get(f"{CONV}/{conversation['id']}", token=people["agent"].token)).body
    assert view["allowed_actions"]["agent"] == ["claim"]
    assert view["allowed_actions"]["supervisor"] == ["claim", "transfer", "resolve", "switch_mode"]
    refused = await client.post(f"{CONV}/{conversation['id']}/resolve", token=people["agent"].token)
    assert refused.status == 403


@pytest.mark.parametrize("viewer", ["owner", "agent", "supervisor"])
@pytest.mark.parametrize("action", sorted(REQUESTS))
async def test_an_assigned_conversation_allows_what_it_offers_and_refuses_the_rest(
    client, sessions, viewer, action
):
    people = await viewers(sessions)
    conversation = await make_conversation(sessions, mode="sync")
    url = f"{CONV}/{conversation['id']}"
    assert (await client.post(f"{url}/claim", token=people["owner"].token)).status == 200
    view = (await client.get(url, token=people[viewer].token)).body
    offered = action in view["allowed_actions"][viewer]
    path, body = REQUESTS[action]
    answer = await client.post(f"{url}/{path}", json=body, token=people[viewer].token)
    if offered:
        assert answer.status == 200, answer.body
    else:
        assert answer.status in (403, 409), answer.body
        after = (await client.get(url, token=people[viewer].token)).body
        assert (after["status"], after["mode"]) == (view["status"], view["mode"])
    expected = {
        "owner": {"release", "resolve", "switch_mode"},
        "supervisor": {"release", "resolve", "switch_mode"},
        "agent": set(),
    }
    assert offered == (action in expected[viewer])
