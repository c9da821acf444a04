"""Shift handover, approval of trainees' replies, the supervisor's live view and the live
events the console notifies on, over HTTP."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

from handoff.roles import Role
from handoff.services.retention import RetentionPolicy, apply_retention
from harness.handoff_data import handoff_body, make_agent, make_conversation
from tests.handoff.conftest import API_TOKEN


async def next_event(ws, kind: str) -> dict:
    while True:
        event = await asyncio.wait_for(ws.receive_json(), timeout=20)
        if event["type"] == kind:
            return event


async def claimed(client, sessions, agent) -> str:
    conversation = await make_conversation(sessions)
    answer = await client.post(
        f"/api/v1/conversations/{conversation['id']}/claim", token=agent.token
    )
    assert answer.status == 200
    return conversation["id"]


async def detail(client, token: str, conversation_pk: str) -> dict:
    return (await client.get(f"/api/v1/conversations/{conversation_pk}", token=token)).body


async def test_handover_to_a_teammate_moves_everything_with_a_note_and_tells_nobody(
    client, sessions
):
    leaving = await make_agent(sessions, teams=("billing",))
    next_shift = await make_agent(sessions, teams=("billing",))
    owned = [await claimed(client, sessions, leaving) for _ in range(2)]
    lines_before = [len((await detail(client, leaving.token, pk))["messages"]) for pk in owned]
    answer = await client.post(
        "/api/v1/me/handover",
        json={"to_agent_id": next_shift.id, "note": "Both wait for a refund decision."},
        token=leaving.token,
    )
    assert answer.status == 200 and sorted(answer.body["conversations"]) == sorted(owned)
    for pk, before in zip(owned, lines_before, strict=True):
        view = await detail(client, next_shift.token, pk)
        assert view["assigned_agent"]["id"] == next_shift.id
        assert len(view["messages"]) == before  # the customer was told nothing
        notes = (
            await client.get(f"/api/v1/conversations/{pk}/handover-notes", token=next_shift.token)
        ).body["notes"]
        assert notes[0]["text"] == "Both wait for a refund decision."
        assert notes[0]["from_agent"]["id"] == leaving.id
        assert notes[0]["to_agent"]["id"] == next_shift.id
    # the next owner can reply: it is theirs now
    reply = await client.post(
        f"/api/v1/conversations/{owned[0]}/messages", json={"text": "Hi"}, token=next_shift.token
    )
    assert reply.status == 201


async def test_handover_to_the_queue_keeps_the_place_and_can_tell_the_customer(client, sessions):
    leaving = await make_agent(sessions, teams=("billing",))
    pk = await claimed(client, sessions, leaving)
    queued_at = (await detail(client, leaving.token, pk))["queued_at"]
    before = len((await detail(client, leaving.token, pk))["messages"])
    answer = await client.post(
        "/api/v1/me/handover",
        json={"note": "Asked for photos of the meter.", "tell_customer": True},
        token=leaving.token,
    )
    assert answer.status == 200 and answer.body == {"conversations": [pk], "to_agent": None}
    view = await detail(client, leaving.token, pk)
    assert view["status"] == "queued" and view["queued_at"] == queued_at
    assert len(view["messages"]) == before + 1  # the "left" notice, as asked
    assert view["messages"][-1]["author_type"] == "system"


async def test_bad_handovers_are_refused_and_change_nothing(client, sessions):
    leaving = await make_agent(sessions, teams=("billing",))
    pk = await claimed(client, sessions, leaving)
    for body, status, code in (
        ({"to_agent_id": leaving.id, "note": "x"}, 422, "handover_to_self"),
        ({"to_agent_id": "nobody", "note": "x"}, 422, "unknown_agent"),
        ({"to_agent_id": None}, 400, "missing_field"),
        ({"note": "x", "tell_customer": "yes"}, 422, "invalid_tell_customer"),
    ):
        answer = await client.post("/api/v1/me/handover", json=body, token=leaving.token)
        assert (answer.status, answer.body["error"]) == (status, code), body
    assert (await detail(client, leaving.token, pk))["assigned_agent"]["id"] == leaving.id


async def test_a_trainees_reply_waits_for_approval(client, sessions):
    trainee = await make_agent(sessions, teams=("billing",), name="Tess Trainee")
    supervisor = await make_agent(sessions, Role.SUPERVISOR)
    made = await client.post(
        f"/api/v1/agents/{trainee.id}/queue", json={"in_training": True}, token=supervisor.token
    )
    assert made.status == 200 and made.body["in_training"] is True
    pk = await claimed(client, sessions, trainee)
    before = (await detail(client, trainee.token, pk))["messages"]
    sent = await client.post(
        f"/api/v1/conversations/{pk}/messages", json={"text": "Refund sent"}, token=trainee.token
    )
    assert sent.status == 202 and sent.body["pending_reply"]["status"] == "pending"
    reply_id = sent.body["pending_reply"]["id"]
    view = await detail(client, trainee.token, pk)
    assert view["messages"] == before and view["first_response_at"] is None  # SLA runs on
    mine = await client.get(f"/api/v1/conversations/{pk}/pending-replies", token=trainee.token)
    assert [r["text"] for r in mine.body["replies"]] == ["Refund sent"]
    assert (await client.get("/api/v1/approvals", token=trainee.token)).status == 403
    waiting = await client.get("/api/v1/approvals", token=supervisor.token)
    [listed] = waiting.body["replies"]
    assert listed["id"] == reply_id and listed["conversation"]["id"] == pk
    approved = await client.post(
        f"/api/v1/approvals/{reply_id}/approve",
        json={"text": "The refund is on its way."},
        token=supervisor.token,
    )
    assert approved.status == 200 and approved.body["status"] == "approved"
    view = await detail(client, trainee.token, pk)
    line = view["messages"][-1]
    assert (line["author_type"], line["author_name"], line["text"]) == (
        "agent",
        "Tess Trainee",
        "The refund is on its way.",
    )
    assert view["first_response_at"] is not None
    again = await client.post(f"/api/v1/approvals/{reply_id}/approve", token=supervisor.token)
    assert again.status == 409 and again.body["error"] == "already_reviewed"

    second = await client.post(
        f"/api/v1/conversations/{pk}/messages", json={"text": "ok bye"}, token=trainee.token
    )
    second_id = second.body["pending_reply"]["id"]
    returned = await client.post(
        f"/api/v1/approvals/{second_id}/return",
        json={"comment": "Ask whether anything else is open first."},
        token=supervisor.token,
    )
    assert returned.status == 200 and returned.body["status"] == "returned"
    mine = await client.get(f"/api/v1/conversations/{pk}/pending-replies", token=trainee.token)
    [back] = mine.body["replies"]
    assert back["comment"] == "Ask whether anything else is open first."
    assert (await detail(client, trainee.token, pk))["messages"][-1]["text"] != "ok bye"


async def test_live_view_and_the_events_the_console_notifies_on(client, sessions):
    supervisor = await make_agent(sessions, Role.SUPERVISOR)
    agent = await make_agent(sessions, teams=("billing",), name="Ada Auto")
    await client.post(
        "/api/v1/teams/billing/queue-mode", json={"mode": "auto"}, token=supervisor.token
    )
    async with client.ws(agent.token) as ws:
        await next_event(ws, "hello")
        online = await client.post(
            "/api/v1/me/presence", json={"presence": "online"}, token=agent.token
        )
        assert online.status == 200
        presence = await next_event(ws, "agent.presence")
        assert presence["agent"]["id"] == agent.id and presence["agent"]["presence"] == "online"
        created = await client.post(
            "/api/v1/handoffs",
            json=handoff_body(),
            token=API_TOKEN,
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assigned = await next_event(ws, "conversation.assigned")
        assert assigned["agent_id"] == agent.id
        assert assigned["conversation"]["id"] == created.body["id"]
        assert assigned["conversation"]["assigned_agent"]["id"] == agent.id
    live = await client.get("/api/v1/supervisor/live", token=supervisor.token)
    assert live.status == 200
    billing = next(team for team in live.body["teams"] if team["id"] == "billing")
    assert billing["mode"] == "auto" and billing["queued"] == 0
    ada = next(person for person in live.body["agents"] if person["id"] == agent.id)
    assert ada["presence"] == "online" and ada["load"] == {"sync": 1, "async": 0}
    assert [c["id"] for c in ada["conversations"]] == [created.body["id"]]
    assert (await client.get("/api/v1/supervisor/live", token=agent.token)).status == 403


async def test_retention_anonymises_handover_notes_and_unsent_replies(client, sessions):
    trainee = await make_agent(sessions, teams=("billing",))
    supervisor = await make_agent(sessions, Role.SUPERVISOR)
    await client.post(
        f"/api/v1/agents/{trainee.id}/queue", json={"in_training": True}, token=supervisor.token
    )
    pk = await claimed(client, sessions, trainee)
    url = f"/api/v1/conversations/{pk}"
    await client.post(f"{url}/messages", json={"text": "Your IBAN is…"}, token=trainee.token)
    await client.post(
        "/api/v1/me/handover", json={"note": "Mrs Example, flat 3"}, token=trainee.token
    )
    await client.post(f"{url}/resolve", token=supervisor.token)
    later = datetime.now(timezone.utc) + timedelta(days=31)
    await apply_retention(sessions, RetentionPolicy(days=30, mode="anonymise"), later)
    notes = (await client.get(f"{url}/handover-notes", token=supervisor.token)).body["notes"]
    replies = (await client.get(f"{url}/pending-replies", token=supervisor.token)).body
    assert [note["text"] for note in notes] == [""]
    assert [reply["text"] for reply in replies["replies"]] == [""]
