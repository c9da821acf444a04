"""SLA warnings and breaches, each once per conversation."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update

from handoff.live import LocalBroadcaster
from handoff.models import Conversation, utc_now
from handoff.sla import check_sla
from harness.handoff_data import make_conversation

WARNING = timedelta(minutes=2)


async def test_warning_then_breach_once_each(sessions):
    live = LocalBroadcaster()
    events = live.subscribe()
    conversation = await make_conversation(
        sessions, priority={"level": 2, "name": "high", "first_response_minutes": 5}
    )
    due = datetime.fromisoformat(conversation["sla_due_at"].replace("Z", "+00:00"))
    assert await check_sla(sessions, live, WARNING, due - timedelta(minutes=3)) == []
    assert await check_sla(sessions, live, WARNING, due - timedelta(minutes=1)) == ["sla.warning"]
    assert await check_sla(sessions, live, WARNING, due - timedelta(seconds=30)) == []
    assert await check_sla(sessions, live, WARNING, due + timedelta(seconds=1)) == ["sla.breached"]
    assert await check_sla(sessions, live, WARNING, due + timedelta(minutes=9)) == []
    first = await events.queue.get()
    assert (first["type"], first["conversation"]["id"]) == ("sla.warning", conversation["id"])
    assert (await events.queue.get())["type"] == "sla.breached"


async def test_no_sla_event_after_the_first_response(sessions):
    conversation = await make_conversation(sessions)
    async with sessions.begin() as session:
        await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation["id"])
            .values(first_response_at=utc_now())
        )
    later = datetime.fromisoformat(conversation["sla_due_at"].replace("Z", "+00:00")) + WARNING
    assert await check_sla(sessions, LocalBroadcaster(), WARNING, later) == []
