"""The supervisor's live view lists every waiting conversation with its time left against the
SLA target in force, most urgent first, overdue ones flagged."""

from __future__ import annotations

from datetime import datetime, timedelta

from handoff.live import LocalBroadcaster
from handoff.roles import Role
from handoff.services.presence import PresenceService
from handoff.services.sla_targets import SlaTargetService
from handoff.services.supervision import SupervisionService
from handoff.settings import QueueSettings
from harness.handoff_data import make_agent, make_conversation

URGENT = {"level": 1, "name": "urgent", "first_response_minutes": 2}


def queued_at(view) -> datetime:
    return datetime.fromisoformat(view["queued_at"].replace("Z", "+00:00"))


def supervision(sessions) -> SupervisionService:
    presence = PresenceService(sessions, LocalBroadcaster(), QueueSettings())
    return SupervisionService(sessions, presence, timedelta(minutes=5), None, 0.8)


async def test_waiting_conversations_show_time_left_most_urgent_first(sessions):
    normal = await make_conversation(sessions)  # the bot promised 15 minutes
    urgent = await make_conversation(sessions, priority=URGENT)  # … and 2 minutes
    start = queued_at(normal)
    live = await supervision(sessions).live(start + timedelta(minutes=5))
    assert [item["id"] for item in live["waiting"]] == [urgent["id"], normal["id"]]
    late, fine = live["waiting"]
    assert late["overdue"] and late["sla_state"] == "breached"
    assert late["sla_goal"] == "first_response" and late["sla_seconds_left"] < 0
    assert not fine["overdue"] and fine["sla_state"] == "ok"
    assert 9 * 60 <= fine["sla_seconds_left"] <= 10 * 60
    assert fine["waited_seconds"] == 300 and fine["priority"] == 3


async def test_a_supervisors_target_replaces_the_bots_promise(sessions):
    normal = await make_conversation(sessions)
    supervisor = await make_agent(sessions, Role.SUPERVISOR)
    await SlaTargetService(sessions).put(
        {"targets": [{"priority": 3, "mode": "sync", "first_response_seconds": 3600}]},
        supervisor.id,
    )
    live = await supervision(sessions).live(queued_at(normal) + timedelta(minutes=50))
    (item,) = live["waiting"]
    assert item["sla_state"] == "approaching" and 9 * 60 <= item["sla_seconds_left"] <= 600
