"""Snooze: an agent puts an async conversation aside until a time or until the customer
replies; it wakes with the reminder on top, with its owner (or in the queue if the owner left),
once; the SLA is paused meanwhile; refusals change nothing. Time is passed in, never slept."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from handoff.live import LocalBroadcaster
from handoff.models import Agent
from handoff.roles import Role
from handoff.services.sink import EventSink
from handoff.services.snooze import SnoozeService
from handoff.sla import check_sla
from harness.handoff_data import make_agent, make_conversation, user_event

CONV = "/api/v1/conversations"


def moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


@pytest.fixture
async def owned(client, sessions):
    """(agent, conversation) claimed by the agent."""
    dana = await make_agent(sessions, name="Dana", teams=("billing",))
    conversation = await make_conversation(sessions, mode="async")
    await client.post(f"{CONV}/{conversation['id']}/claim", token=dana.token)
    return dana, conversation


async def detail(client, token, cid):
    return (await client.get(f"{CONV}/{cid}", token=token)).body


async def test_it_wakes_at_its_time_with_the_note_for_its_owner(client, sessions, owned):
    dana, conversation = owned
    cid = conversation["id"]
    until = (datetime.now(timezone.utc) + timedelta(days=2)).replace(microsecond=0)
    note = "check after the technician's visit on Thursday"
    body = {"until": until.isoformat(), "note": note}
    snoozed = await client.post(f"{CONV}/{cid}/snooze", json=body, token=dana.token)
    assert snoozed.status == 200
    assert snoozed.body["snooze"]["note"] == note
    assert moment(snoozed.body["snooze"]["until"]) == until

    service = SnoozeService(sessions, LocalBroadcaster())
    assert await service.wake_due(until - timedelta(minutes=1)) == []
    assert await check_sla(sessions, LocalBroadcaster(), timedelta(0), until) == [], (
        "the SLA is paused while snoozed"
    )
    assert await service.wake_due(until + timedelta(seconds=1)) == [cid]
    assert await service.wake_due(until + timedelta(seconds=2)) == [], "it wakes once"

    woken = await detail(client, dana.token, cid)
    assert woken["snooze"] is None
    assert woken["status"] == "assigned" and woken["assigned_agent"]["id"] == dana.id
    assert woken["notes"][-1]["text"] == f"Snooze ended: {note}"
    slept = moment(woken["sla_due_at"]) - moment(conversation["sla_due_at"])
    assert slept >= timedelta(days=2) - timedelta(minutes=1), "the due time moved on"


async def test_the_customer_replying_wakes_it_at_once(client, sessions, owned):
    dana, conversation = owned
    cid = conversation["id"]
    await client.post(f"{CONV}/{cid}/snooze", json={"until": None}, token=dana.token)
    assert (await detail(client, dana.token, cid))["snooze"]["until"] is None
    sink = EventSink(sessions, LocalBroadcaster())
    await sink.store([user_event(conversation["conversation_id"], "any news?", time.time())])
    woken = await detail(client, dana.token, cid)
    assert woken["snooze"] is None
    assert woken["messages"][-1]["text"] == "any news?"


async def test_a_snooze_of_an_agent_who_left_wakes_into_the_queue(client, sessions, owned):
    dana, conversation = owned
    cid = conversation["id"]
    until = datetime.now(timezone.utc) + timedelta(hours=1)
    await client.post(f"{CONV}/{cid}/snooze", json={"until": until.isoformat()}, token=dana.token)
    async with sessions.begin() as session:
        await session.execute(update(Agent).where(Agent.id == dana.id).values(active=False))
    await SnoozeService(sessions, LocalBroadcaster()).wake_due(until + timedelta(seconds=1))
    boss = await make_agent(sessions, Role.SUPERVISOR)
    woken = await detail(client, boss.token, cid)
    assert woken["status"] == "queued" and woken["assigned_agent"] is None
    assert woken["queued_at"] == conversation["queued_at"], "it keeps its place in the queue"


async def test_unsnooze_brings_it_back_now(client, sessions, owned):
    dana, conversation = owned
    cid = conversation["id"]
    await client.post(f"{CONV}/{cid}/snooze", json={"note": "later"}, token=dana.token)
    back = await client.post(f"{CONV}/{cid}/unsnooze", token=dana.token)
    assert back.status == 200 and back.body["snooze"] is None
    assert (await client.post(f"{CONV}/{cid}/unsnooze", token=dana.token)).status == 409


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"until": "2020-01-01T00:00:00Z"}, 422),
        ({"until": "2999-01-01T00:00:00Z"}, 422),
        ({"until": "2026-12-24T10:00:00"}, 422),
        ({"until": "thursday"}, 422),
        ({"until": 5}, 422),
        ({"note": ""}, 422),
    ],
)
async def test_a_wrong_snooze_changes_nothing(client, sessions, owned, body, status):
    dana, conversation = owned
    cid = conversation["id"]
    before = await detail(client, dana.token, cid)
    answer = await client.post(f"{CONV}/{cid}/snooze", json=body, token=dana.token)
    assert answer.status == status
    assert (await detail(client, dana.token, cid))["version"] == before["version"]


async def test_only_the_owner_snoozes_an_assigned_conversation(client, sessions, owned):
    dana, conversation = owned
    kim = await make_agent(sessions, teams=("billing",))
    cid = conversation["id"]
    assert (await client.post(f"{CONV}/{cid}/snooze", json={}, token=kim.token)).status == 403
    queued = await make_conversation(sessions)
    answer = await client.post(f"{CONV}/{queued['id']}/snooze", json={}, token=dana.token)
    assert answer.status == 409
