"""Automatic assignment: order, tie-breaks, skills, capacity, presence, timeouts, re-queue."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import aiohttp
import pytest

from contracts.values import format_time as iso
from handoff.delivery import DeliveryClient
from handoff.errors import Invalid
from handoff.http import RetryPolicy
from handoff.queue_settings import QueueSettings
from handoff.services.conversations import ConversationService
from harness.handoff_data import auth_service
from tests.handoff.queue_setup import make_queue


def at(base: datetime, minutes: float) -> str:
    return iso(base + timedelta(minutes=minutes))


def priority(level: int, minutes: int | None) -> dict:
    names = {2: "high", 3: "normal"}
    return {"level": level, "name": names[level], "first_response_minutes": minutes}


async def test_order_is_priority_then_sla_due_then_waiting_time(sessions):
    queue = make_queue(sessions)
    await queue.auto()
    base = datetime.now(timezone.utc)
    no_sla = await queue.handoff(requested_at=at(base, -20), priority=priority(3, None))
    old = await queue.handoff(requested_at=at(base, -10), priority=priority(3, 15))  # due +5
    later = await queue.handoff(requested_at=at(base, -8), priority=priority(3, 13))  # due +5
    sooner = await queue.handoff(requested_at=at(base, -1), priority=priority(3, 2))  # due +1
    high = await queue.handoff(requested_at=at(base, 0), priority=priority(2, 5))
    agent = await queue.online_agent(max_sync=10)
    made = await queue.assignment.assign_round()
    assert [a.conversation_id for a in made] == [high, sooner, old, later, no_sla]
    assert {a.agent_id for a in made} == {agent.id}
    row = await queue.row(high)
    assert row.status == "assigned" and row.assigned_agent_id == agent.id


async def test_ties_go_to_the_least_loaded_then_the_longest_idle(sessions):
    queue = make_queue(sessions)
    await queue.auto()
    first = await queue.online_agent()
    second = await queue.online_agent()
    one = await queue.handoff()
    [made] = await queue.assignment.assign_round()
    # equal load, neither assigned before: either may get the first; the other is idle longer
    other = second if made.agent_id == first.id else first
    two = await queue.handoff()
    [made_two] = await queue.assignment.assign_round()
    assert made_two.agent_id == other.id  # least loaded (0 against 1)
    three = await queue.handoff()
    [made_three] = await queue.assignment.assign_round()
    # both carry one now: the one assigned longest ago is idle longest
    assert made_three.agent_id == made.agent_id
    assert [m.conversation_id for m in (made, made_two, made_three)] == [one, two, three]


async def test_skills_match_language_topic_and_device(sessions):
    queue = make_queue(sessions)
    await queue.auto("devices")
    english = await queue.online_agent("devices", skills=["language:en"])
    german = await queue.online_agent("devices", skills=["language:de", "device:thermostat"])
    customer = {"id": "c-de", "language": "de-AT"}
    triage = {"topic": "technical", "device_name": "Hallway Thermostat"}
    for_german = await queue.handoff(team="devices", customer=customer, triage=triage)
    camera = {"topic": "technical", "device_name": "Garden camera"}
    nobody = await queue.handoff(team="devices", customer=customer, triage=camera)
    for_english = await queue.handoff(team="devices")
    made = {a.conversation_id: a.agent_id for a in await queue.assignment.assign_round()}
    assert made == {for_german: german.id, for_english: english.id}
    assert (await queue.row(nobody)).status == "queued"  # German, camera: no one fits


async def test_capacity_per_kind_is_never_exceeded(sessions):
    queue = make_queue(sessions)
    await queue.auto()
    agent = await queue.online_agent(max_sync=2, max_async=1)
    live = [await queue.handoff() for _ in range(4)]
    later = [await queue.handoff(mode="async") for _ in range(3)]
    made = await queue.assignment.assign_round()
    assert len(made) == 3
    statuses = [(await queue.row(pk)).status for pk in live + later]
    assert statuses.count("assigned") == 3
    assert [(await queue.row(pk)).status for pk in live[:2]] == ["assigned", "assigned"]
    assert (await queue.row(later[0])).status == "assigned"
    view = await queue.presence.get(agent.id)
    assert view["load"] == {"sync": 2, "async": 1}
    assert await queue.assignment.assign_round() == []  # full: the rest waits


async def test_pull_teams_away_and_offline_agents_get_nothing(sessions):
    queue = make_queue(sessions)
    away = await queue.online_agent()
    await queue.presence.set_presence(away.id, "away", away.id)
    pulled = await queue.handoff()
    assert await queue.assignment.assign_round() == []  # billing is in pull mode
    await queue.auto()
    assert await queue.assignment.assign_round() == []  # its only agent is away
    await queue.presence.set_presence(away.id, "online", away.id)
    [made] = await queue.assignment.assign_round()
    assert (made.conversation_id, made.agent_id) == (pulled, away.id)


async def test_going_offline_requeues_in_the_original_place_with_every_line(sessions):
    queue = make_queue(sessions)
    await queue.auto()
    leaving = await queue.online_agent()
    base = datetime.now(timezone.utc)
    oldest = await queue.handoff(requested_at=at(base, -30))
    await queue.assignment.assign_round()
    waiting_since = (await queue.row(oldest)).queued_at
    newer = await queue.handoff(requested_at=at(base, -1))
    await queue.presence.set_presence(leaving.id, "offline", leaving.id)
    row = await queue.row(oldest)
    assert row.status == "queued" and row.assigned_agent_id is None
    assert row.queued_at == waiting_since
    [requeued] = await queue.history("requeue_offline")
    assert requeued.from_agent_id == leaving.id
    taker = await queue.online_agent(max_sync=1)
    [made] = await queue.assignment.assign_round()
    assert made.conversation_id == oldest and made.agent_id == taker.id  # ahead of `newer`
    assert (await queue.row(newer)).status == "queued"
    service = ConversationService(sessions, queue.live, None, None)  # type: ignore[arg-type]
    detail = await service.detail(oldest)
    assert [m["text"] for m in detail["messages"]][:2] == [
        "I was charged twice",
        "I'm handing you over to a person.",
    ]
    assert "went offline" in detail["notes"][0]["text"]


async def test_unanswered_assignment_goes_back_and_to_someone_else(sessions):
    queue = make_queue(sessions, QueueSettings(unanswered_seconds=60))
    await queue.auto()
    silent = await queue.online_agent()
    conversation = await queue.handoff()
    await queue.assignment.assign_round()
    queued_at = (await queue.row(conversation)).queued_at
    assert await queue.assignment.expire_unanswered() == []  # not yet due
    later = datetime.now(timezone.utc) + timedelta(seconds=61)
    assert await queue.assignment.expire_unanswered(later) == [conversation]
    row = await queue.row(conversation)
    assert row.status == "queued" and row.queued_at == queued_at
    [timeout] = await queue.history("assignment_timeout")
    assert timeout.from_agent_id == silent.id and timeout.by_agent_id is None
    assert "Not answered" in (timeout.note or "")
    assert await queue.assignment.assign_round() == []  # not back to the one who let it wait
    other = await queue.online_agent()
    [made] = await queue.assignment.assign_round()
    assert made.agent_id == other.id


async def test_an_answered_assignment_stays(sessions):
    queue = make_queue(sessions, QueueSettings(unanswered_seconds=60))
    await queue.auto()
    agent = await queue.online_agent()
    conversation = await queue.handoff()
    await queue.assignment.assign_round()
    auth = auth_service(sessions)
    try:
        principal = await auth.authenticate(agent.token)
    finally:
        auth.close()
    async with aiohttp.ClientSession() as http:
        delivery = DeliveryClient(http, "http://127.0.0.1:9", "t", RetryPolicy(attempts=1))
        service = ConversationService(sessions, queue.live, delivery, None)  # type: ignore[arg-type]
        await service.reply(conversation, principal, "Hello, I am looking at it.")
    later = datetime.now(timezone.utc) + timedelta(seconds=120)
    assert await queue.assignment.expire_unanswered(later) == []
    assert (await queue.row(conversation)).status == "assigned"


@pytest.mark.parametrize("bad", [{"max_sync": -1}, {"max_async": "3"}, {"in_training": 1}, {}])
async def test_bad_capacity_is_refused_and_changes_nothing(sessions, bad):
    queue = make_queue(sessions)
    agent = await queue.online_agent(max_sync=4)
    with pytest.raises(Invalid):
        await queue.presence.configure(agent.id, bad)
    assert (await queue.presence.get(agent.id))["max_sync"] == 4
