"""Reopen or new, and thread lifetime (handoff/services/threads.py), on SQLite and PostgreSQL.

Time is controlled, never slept: the customer's lines carry their own timestamps (the reopen
decision compares them with the resolution), and the silence timer is given its "now".
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from handoff.models import Agent, Conversation, CsatSurvey, utc_now
from handoff.periodic import leased
from handoff.services.segments import Change, Facts, segment
from handoff.thread_policy import ThreadPolicyError, load_policy, parse_policy
from tests.handoff import lifecycle_world

world = lifecycle_world.world  # the fixture


async def test_a_customer_writing_within_the_window_reopens_to_the_online_agent(world):
    dana = await world.queue.online_agent()
    row = await world.resolved(dana)  # billing: a 168-hour reopen window
    assert row.status == "resolved" and row.resolution == "person"
    await world.customer_writes(row, "It happened again", row.resolved_at + timedelta(days=6))
    reopened = await world.queue.row(row.id)
    assert reopened.status == "assigned" and reopened.assigned_agent_id == dana.id
    assert reopened.reopen_count == 1 and reopened.resolved_at is None
    detail = await world.conversations.detail(row.id)
    texts = [line["text"] for line in detail["messages"]]
    assert texts[0] == "I was charged twice", "the earlier transcript stays visible"
    assert "Here is how to do it." in texts and texts[-1] == "It happened again"
    reopen = [a for a in await world.actions(row.id) if a.action == "reopen"]
    assert len(reopen) == 1 and reopen[0].to_agent_id == dana.id
    assert world.rasa.resumed == [], "the bot stays paused"


async def test_with_the_agent_offline_it_goes_back_to_the_queue_at_its_priority(world):
    dana = await world.queue.online_agent()
    row = await world.resolved(
        dana, priority={"level": 2, "name": "high", "first_response_minutes": 5}
    )
    await world.queue.presence.set_presence(dana.id, "offline", dana.id)
    wrote = row.resolved_at + timedelta(hours=2)
    await world.customer_writes(row, "Still broken", wrote)
    reopened = await world.queue.row(row.id)
    assert reopened.status == "queued" and reopened.assigned_agent_id is None
    assert (reopened.priority_level, reopened.priority_name) == (2, "high")
    assert reopened.sla_due_at - reopened.queued_at == timedelta(minutes=5)
    await world.customer_writes(row, "Hello?", wrote + timedelta(minutes=1))
    assert (await world.queue.row(row.id)).reopen_count == 1, "one reopen, not one per line"


async def test_after_the_window_the_bot_starts_a_new_conversation(world):
    dana = await world.queue.online_agent()
    row = await world.resolved(dana, triage={"topic": "how_to"})  # a 24-hour window
    world.rasa.down = True
    later = row.resolved_at + timedelta(hours=30)
    await world.customer_writes(row, "One more question", later)
    assert (await world.queue.row(row.id)).status == "resolved", "Rasa refused: nothing changed"
    world.rasa.down = False
    await world.customer_writes(row, "Anyone?", later + timedelta(minutes=5))
    back = await world.queue.row(row.id)
    assert back.status == "bot" and back.reopen_count == 0
    assert world.rasa.resumed == [row.conversation_id]
    assert [a.action for a in await world.actions(row.id)][-1] == "new_with_bot"
    texts = [line["text"] for line in (await world.conversations.detail(row.id))["messages"]]
    assert texts[0] == "I was charged twice" and texts[-1] == "Anyone?"


async def test_the_answers_to_the_survey_do_not_reopen_a_line_after_them_does(world):
    dana = await world.queue.online_agent()
    row = await world.resolved(dana)
    assert await world.csat.send_due(world.rasa, world.conversations) == 1
    assert world.rasa.surveyed == [row.conversation_id]
    await world.customer_writes(row, "4", utc_now())  # the score, while the survey is out
    assert (await world.queue.row(row.id)).status == "resolved"
    commented = utc_now()
    await world.csat.answer(row.conversation_id, 4, "Quick and clear")  # the bot reports it
    await world.customer_writes(row, "Quick and clear", commented)  # stored after the answer
    assert (await world.queue.row(row.id)).status == "resolved"
    await world.customer_writes(row, "It stopped working again", utc_now() + timedelta(minutes=5))
    reopened = await world.queue.row(row.id)
    assert (reopened.status, reopened.reopen_count) == ("assigned", 1)


async def test_a_survey_left_unanswered_stops_taking_lines_an_hour_after_it_went_out(world):
    dana = await world.queue.online_agent()
    row = await world.resolved(dana)
    assert await world.csat.send_due(world.rasa, world.conversations) == 1
    async with world.queue.sessions.begin() as session:  # it went out two hours ago
        await session.execute(
            update(CsatSurvey)
            .where(CsatSurvey.conversation_id == row.id)
            .values(due_at=utc_now() - timedelta(hours=2))
        )
    await world.customer_writes(row, "The heating is off again", utc_now())
    reopened = await world.queue.row(row.id)
    assert (reopened.status, reopened.reopen_count) == ("assigned", 1)


def test_reopens_are_episodes_the_kpis_mark_whatever_the_window():
    start = datetime(2026, 11, 2, 9, tzinfo=timezone.utc)
    changes = [
        Change(start, "intake", team="billing"),
        Change(start + timedelta(minutes=1), "claim", to_agent_id="a1"),
        Change(start + timedelta(hours=1), "resolve"),
        Change(start + timedelta(days=12), "reopen", to_agent_id="a1", team="billing"),
    ]
    facts = Facts(start, "webchat", "billing", 3, "async")
    breakdown = segment(facts, changes, [], start + timedelta(days=13))
    first, second = breakdown.episodes
    assert second.reopen and first.reopened and not first.first_contact_resolution
    assert breakdown.segments[-1].kind == "agent" and breakdown.segments[-1].agent_id == "a1"


async def test_a_silent_customer_is_closed_automatically_once_with_a_notice(world, sessions):
    dana = await world.queue.online_agent()
    row = await world.handled(dana, mode="async")  # billing async: 10 silent days
    answered = row.first_response_at
    assert await world.threads.close_silent(answered + timedelta(days=9)) == []
    closing = answered + timedelta(days=10, minutes=1)
    assert await world.threads.close_silent(closing) == [row.id]
    assert await world.threads.close_silent(closing) == [], "once"
    closed = await world.queue.row(row.id)
    assert closed.status == "resolved" and closed.resolution == "automatic"
    assert [a.action for a in await world.actions(row.id)][-1] == "auto_resolve"
    notice = world.delivery.sent[-1]
    assert notice.author_type == "system" and "10 days" in notice.text
    async with sessions() as session:
        survey = await session.scalar(
            select(CsatSurvey).where(CsatSurvey.conversation_id == row.id)
        )
    assert survey.status == "skipped" and survey.rule == "automatic_resolution"


async def test_what_is_not_closed_for_silence(world, sessions):
    dana = await world.queue.online_agent()
    answered_back = await world.handled(dana, mode="async")
    await world.customer_writes(answered_back, "Let me check", datetime.now(timezone.utc))
    snoozed = await world.handled(dana, mode="async")
    async with sessions.begin() as session:
        await session.execute(
            update(Conversation)
            .where(Conversation.id == snoozed.id)
            .values(snoozed_at=datetime.now(timezone.utc))
        )
    live_chat = await world.handled(dana, mode="sync")  # no silence limit for sync
    far = datetime.now(timezone.utc) + timedelta(days=60)
    assert await world.threads.close_silent(far) == []
    for row in (answered_back, snoozed, live_chat):
        assert (await world.queue.row(row.id)).status == "assigned"


async def test_on_whatsapp_it_closes_without_a_notice_the_channel_would_refuse(world):
    dana = await world.queue.online_agent()
    row = await world.handled(dana, mode="async", channel="whatsapp")
    sent_before = len(world.delivery.sent)
    assert await world.threads.close_silent(row.first_response_at + timedelta(days=11)) == [row.id]
    assert len(world.delivery.sent) == sent_before


async def test_the_timer_runs_in_one_instance_at_a_time(sessions, world):
    dana = await world.queue.online_agent()
    row = await world.handled(dana, mode="async")
    rounds: list[str] = []

    def instance(name: str):
        async def job() -> list[str]:
            rounds.append(name)
            return await world.threads.close_silent(row.first_response_at + timedelta(days=11))

        return leased(sessions, "thread-lifetime", name, 300, job)

    assert await instance("a")() == [row.id]
    assert await instance("b")() is None
    assert rounds == ["a"]


async def test_an_inactive_last_agent_gets_nothing_back(world, sessions):
    dana = await world.queue.online_agent()
    row = await world.resolved(dana)
    async with sessions.begin() as session:
        await session.execute(update(Agent).where(Agent.id == dana.id).values(active=False))
    await world.customer_writes(row, "again", row.resolved_at + timedelta(hours=1))
    assert (await world.queue.row(row.id)).status == "queued"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"version": 1}, "default"),
        ({"version": 1, "default": {"reopen_hours": 0}}, "default.reopen_hours"),
        (
            {"version": 1, "default": {"reopen_hours": 2, "silence_days": {"later": 3}}},
            "default.silence_days.later",
        ),
        (
            {
                "version": 1,
                "default": {"reopen_hours": 2},
                "topics": {"billing": {"silence_days": {}}},
            },
            "topics.billing.reopen_hours",
        ),
        ({"version": 2, "default": {"reopen_hours": 2}}, "version"),
    ],
)
def test_a_wrong_policy_names_the_field(data, field):
    with pytest.raises(ThreadPolicyError, match=f"field '{field}'"):
        parse_policy(data)


def test_the_shipped_policy_loads_with_the_examples():
    policy = load_policy()
    assert policy.silence_limit("how_to", "async") == timedelta(days=2)
    assert policy.silence_limit("billing", "async") == timedelta(days=10)
    assert policy.silence_limit("billing", "sync") is None
    assert policy.reopen_window("unknown") == timedelta(hours=72)
