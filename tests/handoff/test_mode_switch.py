"""Switching a conversation between live chat (sync) and answer later (async): the SLA target
follows the mode until the first response, the customer is told in their language (unless the
agent chooses not to), and refusals change nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from handoff.roles import Role
from handoff.services.sla_targets import default_first_response_minutes as first_response_minutes
from harness.handoff_data import make_agent, make_conversation

CONV = "/api/v1/conversations"


def moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


async def system_lines(client, token, conversation_id) -> list[str]:
    detail = (await client.get(f"{CONV}/{conversation_id}", token=token)).body
    return [m["text"] for m in detail["messages"] if m["author_type"] == "system"]


async def test_to_async_and_back_moves_the_target_and_tells_the_customer(client, sessions):
    dana = await make_agent(sessions, name="Dana", teams=("billing",))
    conversation = await make_conversation(
        sessions, customer={"id": "c-9", "name": "Jonas", "language": "de"}
    )
    cid = conversation["id"]
    await client.post(f"{CONV}/{cid}/claim", token=dana.token)

    later = await client.post(f"{CONV}/{cid}/mode", json={"mode": "async"}, token=dana.token)
    assert later.status == 200
    assert later.body["mode"] == "async"
    minutes = first_response_minutes("async", "normal")
    assert later.body["priority"]["first_response_minutes"] == minutes
    due = moment(later.body["sla_due_at"]) - moment(later.body["queued_at"])
    assert due == timedelta(minutes=minutes)

    live = await client.post(f"{CONV}/{cid}/mode", json={"mode": "sync"}, token=dana.token)
    assert live.body["mode"] == "sync"
    assert live.body["priority"]["first_response_minutes"] == first_response_minutes(
        "sync", "normal"
    )
    assert moment(live.body["sla_due_at"]) > moment(later.body["queued_at"]) + timedelta(
        minutes=first_response_minutes("sync", "normal")
    ), "a live target counts from the switch, not from the original queueing"
    lines = await system_lines(client, dana.token, cid)
    assert lines[-2].startswith("Du musst hier nicht warten")
    assert lines[-1] == "Dana ist jetzt für dich da."


async def test_the_agent_can_switch_without_telling_the_customer(client, sessions):
    dana = await make_agent(sessions, teams=("billing",))
    cid = (await make_conversation(sessions))["id"]
    await client.post(f"{CONV}/{cid}/claim", token=dana.token)
    before = await system_lines(client, dana.token, cid)
    body = {"mode": "async", "tell_customer": False}
    assert (await client.post(f"{CONV}/{cid}/mode", json=body, token=dana.token)).status == 200
    assert await system_lines(client, dana.token, cid) == before


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"mode": "later"}, 422),
        ({"mode": "sync"}, 409),  # already sync
        ({"mode": "async", "tell_customer": "yes"}, 422),
        ({}, 400),
    ],
)
async def test_a_refused_switch_changes_nothing(client, sessions, body, status):
    dana = await make_agent(sessions, teams=("billing",))
    cid = (await make_conversation(sessions))["id"]
    await client.post(f"{CONV}/{cid}/claim", token=dana.token)
    before = (await client.get(f"{CONV}/{cid}", token=dana.token)).body
    answer = await client.post(f"{CONV}/{cid}/mode", json=body, token=dana.token)
    assert answer.status == status
    after = (await client.get(f"{CONV}/{cid}", token=dana.token)).body
    assert after["version"] == before["version"]
    assert after["messages"] == before["messages"]


async def test_only_the_owner_or_a_supervisor_switches(client, sessions):
    dana = await make_agent(sessions, teams=("billing",))
    kim = await make_agent(sessions, teams=("billing",))
    boss = await make_agent(sessions, Role.SUPERVISOR)
    cid = (await make_conversation(sessions))["id"]
    await client.post(f"{CONV}/{cid}/claim", token=dana.token)
    body = {"mode": "async"}
    assert (await client.post(f"{CONV}/{cid}/mode", json=body, token=kim.token)).status == 403
    assert (await client.post(f"{CONV}/{cid}/mode", json=body, token=boss.token)).status == 200
    await client.post(f"{CONV}/{cid}/resolve", token=boss.token)
    resolved = await client.post(f"{CONV}/{cid}/mode", json={"mode": "sync"}, token=boss.token)
    assert resolved.status == 409


async def test_a_supervisor_s_target_for_the_new_mode_is_used(client, sessions):
    boss = await make_agent(sessions, Role.SUPERVISOR)
    target = {"priority": 3, "mode": "async", "first_response_seconds": 7200}
    answer = await client.request(
        "PUT", "/api/v1/sla-targets", json={"targets": [target]}, token=boss.token
    )
    assert answer.status == 200
    cid = (await make_conversation(sessions))["id"]
    await client.post(f"{CONV}/{cid}/claim", token=boss.token)
    later = await client.post(f"{CONV}/{cid}/mode", json={"mode": "async"}, token=boss.token)
    assert later.body["priority"]["first_response_minutes"] == 120
    due = moment(later.body["sla_due_at"]) - moment(later.body["queued_at"])
    assert due == timedelta(hours=2)
