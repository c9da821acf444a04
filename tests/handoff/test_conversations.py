"""Agents at work over HTTP: queue, claim, reply, notes, transfer, release, resolve; and every
refusal (404, 409, 403, 400, 422, 413) leaves the conversation as it was."""

from __future__ import annotations

import pytest

from handoff.roles import Role
from harness.handoff_data import make_agent, make_conversation, make_team

CONV = "/api/v1/conversations"


async def snapshot(client, token, conversation_id):
    answer = await client.get(f"{CONV}/{conversation_id}", token=token)
    assert answer.status == 200
    view = answer.body
    view.pop("waiting_seconds")
    return view


async def test_queue_orders_by_priority_then_sla_then_waiting_time(client, sessions):
    agent = await make_agent(sessions)
    low = await make_conversation(
        sessions, priority={"level": 4, "name": "low", "first_response_minutes": 60}
    )
    urgent_late = await make_conversation(
        sessions, priority={"level": 1, "name": "urgent", "first_response_minutes": 10}
    )
    urgent_soon = await make_conversation(
        sessions, priority={"level": 1, "name": "urgent", "first_response_minutes": 2}
    )
    devices = await make_conversation(sessions, team="devices", mode="async")
    answer = await client.get("/api/v1/queue", token=agent.token)
    assert [c["id"] for c in answer.body["conversations"]] == [
        urgent_soon["id"],
        urgent_late["id"],
        devices["id"],
        low["id"],
    ]
    filtered = await client.get("/api/v1/queue?team=devices&mode=async", token=agent.token)
    assert [c["id"] for c in filtered.body["conversations"]] == [devices["id"]]
    await client.post(f"{CONV}/{low['id']}/claim", token=agent.token)
    assigned = await client.get("/api/v1/queue?status=assigned", token=agent.token)
    assert [c["id"] for c in assigned.body["conversations"]] == [low["id"]]
    assert (await client.get("/api/v1/queue?status=nope", token=agent.token)).status == 422


async def test_claim_reply_note_resolve(client, sessions, app):
    dana = await make_agent(sessions, name="Dana")
    other = await make_agent(sessions, name="Lee")
    conversation = await make_conversation(sessions)
    url = f"{CONV}/{conversation['id']}"
    claimed = await client.post(f"{url}/claim", token=dana.token)
    assert claimed.status == 200
    assert claimed.body["status"] == "assigned"
    assert claimed.body["assigned_agent"] == {"id": dana.id, "name": "Dana"}

    before = await snapshot(client, dana.token, conversation["id"])
    again = await client.post(f"{url}/claim", token=other.token)
    assert again.status == 409
    assert again.body["error"] == "already_claimed" and "Dana" in again.body["message"]
    not_owner = await client.post(f"{url}/messages", json={"text": "hi"}, token=other.token)
    assert not_owner.status == 403
    assert await snapshot(client, dana.token, conversation["id"]) == before

    note = await client.post(f"{url}/notes", json={"text": "VIP customer"}, token=other.token)
    assert note.status == 201
    detail = (await client.get(url, token=dana.token)).body
    assert [n["text"] for n in detail["notes"]] == ["VIP customer"]
    assert all(m["text"] != "VIP customer" for m in detail["messages"])

    resolved = await client.post(f"{url}/resolve", token=dana.token)
    assert resolved.status == 200 and resolved.body["resolved_at"]
    before = await snapshot(client, dana.token, conversation["id"])
    late = await client.post(f"{url}/messages", json={"text": "one more"}, token=dana.token)
    assert late.status == 409
    assert await snapshot(client, dana.token, conversation["id"]) == before


async def test_transfer_to_agent_and_team_release_and_supervisor_rights(client, sessions):
    await make_team(sessions, "devices")
    dana = await make_agent(sessions, name="Dana")
    lee = await make_agent(sessions, name="Lee")
    boss = await make_agent(sessions, role=Role.SUPERVISOR, name="Sam")
    conversation = await make_conversation(sessions)
    url = f"{CONV}/{conversation['id']}"
    await client.post(f"{url}/claim", token=dana.token)

    forbidden = await client.post(f"{url}/release", token=lee.token)
    assert forbidden.status == 403
    to_lee = await client.post(
        f"{url}/transfer", json={"agent_id": lee.id, "note": "device question"}, token=dana.token
    )
    assert to_lee.status == 200
    assert to_lee.body["status"] == "assigned" and to_lee.body["assigned_agent"]["id"] == lee.id
    to_team = await client.post(f"{url}/transfer", json={"team": "devices"}, token=boss.token)
    assert to_team.body["status"] == "queued" and to_team.body["team"] == "devices"
    assert to_team.body["assigned_agent"] is None
    both = await client.post(
        f"{url}/transfer", json={"agent_id": lee.id, "team": "x"}, token=boss.token
    )
    assert both.status == 422
    unknown = await client.post(f"{url}/transfer", json={"team": "nowhere"}, token=boss.token)
    assert unknown.status == 422

    await client.post(f"{url}/claim", token=lee.token)
    released = await client.post(f"{url}/release", token=boss.token)
    assert released.body["status"] == "queued"
    detail = (await client.get(url, token=boss.token)).body
    assert [n["text"] for n in detail["notes"]] == ["device question"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("{broken", 400),
        ("[1, 2]", 400),
        ("{}", 400),
        ('{"text": ""}', 422),
        ('{"text": 42}', 422),
        ('{"text": "' + "x" * 4001 + '"}', 422),
        ('{"text": "' + "x" * (1024 * 1024 + 10) + '"}', 413),
    ],
)
async def test_bad_replies_change_nothing(client, sessions, body, status):
    agent = await make_agent(sessions)
    conversation = await make_conversation(sessions)
    url = f"{CONV}/{conversation['id']}"
    await client.post(f"{url}/claim", token=agent.token)
    before = await snapshot(client, agent.token, conversation["id"])
    answer = await client.post(f"{url}/messages", data=body, token=agent.token)
    assert answer.status == status
    assert set(answer.body) == {"error", "message"}
    assert await snapshot(client, agent.token, conversation["id"]) == before


async def test_unknown_conversation_is_404_everywhere(client, sessions):
    agent = await make_agent(sessions, role=Role.SUPERVISOR)
    for method, path, body in [
        ("GET", "", None),
        ("POST", "/claim", None),
        ("POST", "/messages", {"text": "hi"}),
        ("POST", "/notes", {"text": "hi"}),
        ("POST", "/release", None),
        ("POST", "/resolve", None),
        ("POST", "/return-to-bot", None),
    ]:
        answer = await client.request(method, f"{CONV}/nope{path}", json=body, token=agent.token)
        assert answer.status == 404, path
        assert answer.body["error"] == "conversation_not_found"


async def test_teams_and_agents_for_pickers(client, sessions):
    agent = await make_agent(sessions, name="Dana", teams=("billing", "care"))
    teams = await client.get("/api/v1/teams", token=agent.token)
    assert [t["id"] for t in teams.body["teams"]] == ["billing", "care"]
    agents = await client.get("/api/v1/agents", token=agent.token)
    assert agents.body["agents"][0]["teams"] == ["billing", "care"]
    assert "password_hash" not in agents.body["agents"][0]
