"""KPI facts stored and aggregated on SQLite and PostgreSQL: what the agents' real actions
record, hand-computed figures for a small period, slices, the previous period, per agent,
series and drill-down, and the refresher's incremental rounds."""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import aiohttp
from sqlalchemy import select, update

from handoff.app import create_app
from handoff.models import (
    Agent,
    Assignment,
    Conversation,
    KpiAgentWork,
    KpiEpisode,
    Message,
    new_id,
)
from handoff.services.kpis import KpiQueries, KpiRefresher, Slice
from harness.handoff_data import make_agent, make_conversation
from harness.service import ApiClient, serving
from tests.handoff.servers import fake_server

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
NOW = T0 + timedelta(days=1)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def test_real_agent_actions_become_one_resolved_episode(settings, sessions):
    async with fake_server([(200, {"status": "sent"})]) as connector:
        app = create_app(replace(settings, delivery_url=connector.url))
        async with contextlib.AsyncExitStack() as stack:
            base = await stack.enter_async_context(serving(app))
            api = ApiClient(await stack.enter_async_context(aiohttp.ClientSession()), base)
            dana = await make_agent(sessions, name="Dana")
            conversation = await make_conversation(sessions)
            url = f"/api/v1/conversations/{conversation['id']}"
            assert (await api.post(f"{url}/claim", token=dana.token)).status == 200
            reply = await api.post(f"{url}/messages", token=dana.token, json={"text": "Hi"})
            assert reply.status == 201
            assert (await api.post(f"{url}/resolve", token=dana.token)).status == 200
    assert await KpiRefresher(sessions).refresh() == 1
    async with sessions() as session:
        (episode,) = (await session.scalars(select(KpiEpisode))).all()
        (work,) = (await session.scalars(select(KpiAgentWork))).all()
    assert (episode.end_kind, episode.agent_replies, episode.team) == ("resolved", 1, "billing")
    assert episode.first_agent_id == episode.resolved_by_agent_id == dana.id
    assert 0 <= episode.first_response_seconds < 60  # from the intake, seconds ago
    assert episode.fcr and not episode.abandoned
    assert (work.agent_id, work.replies, work.resolved) == (dana.id, 1, True)
    day = Slice(episode.started_at - timedelta(hours=1), episode.started_at + timedelta(hours=1))
    summary = (await KpiQueries(sessions).summary(day))["current"]
    assert summary["sync"]["handoffs"] == summary["all"]["handoffs"] == 1
    assert summary["sync"]["first_contact_resolution_rate"] == 1.0
    # the intake's transcript (the customer's line before the handoff) is one bot contact
    assert summary["bot"] == {
        "contacts": 1,
        "contained": 0,
        "handed_off": 1,
        "containment_rate": 0.0,
        "handoff_rate": 1.0,
    }


async def _conversation(session, sender, *, mode="sync", team="billing", channel="webchat"):
    row = Conversation(
        id=new_id(),
        conversation_id=sender,
        channel=channel,
        status="bot",
        mode=mode,
        team=team,
        triage_topic="billing",
        priority_level=2,
        created_at=at(0),
        updated_at=at(0),
    )
    session.add(row)
    await session.flush()
    return row.id


_seqs = itertools.count(1)  # lines' sequence numbers (unique per conversation is enough)


def _line(pk, minutes, author, agent_id=None, frustration=None):
    return Message(
        seq=next(_seqs),
        conversation_id=pk,
        author_type=author,
        author_agent_id=agent_id,
        text="…",
        dedupe_key=new_id(),
        frustration_score=frustration,
        created_at=at(minutes),
    )


def _change(pk, minutes, action, **values):
    return Assignment(conversation_id=pk, action=action, at=at(minutes), **values)


async def _agent(session, name):
    row = Agent(id=new_id(), email=f"{name}-{new_id()[:6]}@x.example", name=name)
    row.password_hash, row.role = "-", "agent"
    session.add(row)
    await session.flush()
    return row.id


async def _period(sessions):
    """Four conversations on Monday morning (and one the previous day):
    - bot only: a customer line at 09:00, never handed off;
    - sync, Dana: handoff 09:02, claim 09:05, replies 09:06 and 09:10, resolved 09:15;
    - sync, abandoned: handoff 09:20, resolved 09:50 by a supervisor with no reply;
    - async, Lee: handoff 09:00, claim 09:30, reply 10:00, customer 11:00, reply 11:30,
      resolved 12:00 (waiting on the customer 10:00-11:00 and 11:30-12:00).
    The previous day: one sync handoff at 09:00 (Sunday), answered by Dana after 10 minutes."""
    async with sessions.begin() as session:
        dana, lee = await _agent(session, "Dana"), await _agent(session, "Lee")
        bot = await _conversation(session, "bot-only")
        session.add(_line(bot, 0, "customer"))
        handled = await _conversation(session, "handled")
        session.add_all(
            [
                _line(handled, 0, "customer", frustration=0.8),
                _line(handled, 1, "bot"),
                _change(handled, 2, "intake", team="billing"),
                _change(handled, 5, "claim", to_agent_id=dana),
                _line(handled, 6, "agent", dana),
                _line(handled, 8, "customer", frustration=0.1),
                _line(handled, 10, "agent", dana),
                _change(handled, 15, "resolve", by_agent_id=dana, from_agent_id=dana),
            ]
        )
        gone = await _conversation(session, "abandoned")
        session.add_all(
            [
                _line(gone, 19, "customer"),
                _change(gone, 20, "intake", team="billing"),
                _change(gone, 50, "resolve"),
            ]
        )
        slow = await _conversation(session, "async", mode="async", team="devices")
        session.add_all(
            [
                _line(slow, -1, "customer"),
                _change(slow, 0, "intake", team="devices"),
                _change(slow, 30, "claim", to_agent_id=lee),
                _line(slow, 60, "agent", lee),
                _line(slow, 120, "customer"),
                _line(slow, 150, "agent", lee),
                _change(slow, 180, "resolve", by_agent_id=lee),
            ]
        )
        sunday = await _conversation(session, "sunday")
        session.add_all(
            [
                _change(sunday, -24 * 60, "intake", team="billing"),
                _change(sunday, -24 * 60 + 1, "claim", to_agent_id=dana),
                _line(sunday, -24 * 60 + 10, "agent", dana),
            ]
        )
    await KpiRefresher(sessions).refresh(NOW)
    return dana, lee


MORNING = Slice(at(-60), at(23 * 60))  # Monday 08:00 to Tuesday 07:00: a 23-hour period


async def test_hand_computed_period_with_previous_period(sessions):
    await _period(sessions)
    answer = await KpiQueries(sessions).summary(MORNING)
    sync, both = answer["current"]["sync"], answer["current"]["all"]
    assert (sync["handoffs"], sync["handled"], sync["resolved"]) == (2, 1, 2)
    assert sync["first_response_seconds"] == 240.0
    assert sync["average_wait_seconds"] == 180.0
    assert sync["average_handle_seconds"] == 600.0
    assert sync["abandonment_rate"] == 0.5 and sync["abandoned"] == 1
    assert sync["first_contact_resolution_rate"] == 1.0  # of resolutions with a reply
    assert sync["next_response_seconds"] == 120.0
    assert sync["resolution_seconds"] == (780 + 1800) / 2
    assert sync["transfer_rate"] == 0.0
    assert sync["sentiment"]["frustrated_at_handoff"] == 1
    assert sync["sentiment"]["conversion_rate"] == 1.0
    asynchronous = answer["current"]["async"]
    assert asynchronous["first_response_seconds"] == 3600.0
    # assigned 09:30-12:00 (9000 s) less waiting on the customer (3600 + 1800 s)
    assert asynchronous["average_handle_seconds"] == 3600.0
    assert asynchronous["responses_per_conversation"] == 2.0
    assert asynchronous["handled_per_hour"] == 1.0
    assert asynchronous["closed_without_response"] == 0
    assert both["handoffs"] == 3
    assert both["first_response_seconds"] == (240 + 3600) / 2
    bot = answer["current"]["bot"]
    assert (bot["contacts"], bot["contained"], bot["handed_off"]) == (4, 1, 3)
    assert bot["containment_rate"] + bot["handoff_rate"] == 1.0
    # the previous 23 hours hold Sunday's open handoff only
    assert answer["previous"]["sync"]["handoffs"] == 1
    assert answer["previous"]["sync"]["first_response_seconds"] == 600.0
    assert answer["previous"]["sync"]["resolved"] == 0


async def test_slices_by_team_mode_channel_and_agent(sessions):
    dana, lee = await _period(sessions)
    queries = KpiQueries(sessions)

    async def handoffs(**slice_values):
        answer = await queries.summary(replace(MORNING, **slice_values), compare=False)
        return answer["current"]["all"]["handoffs"]

    assert await handoffs(team="devices") == 1
    assert await handoffs(mode="sync") == 2
    assert await handoffs(channel="whatsapp") == 0
    assert await handoffs(agent_id=dana) == 1
    assert await handoffs(agent_id=lee, team="billing") == 0
    assert await handoffs(priority=2) == 3


async def test_per_agent_table_counts_only_agent_lines(sessions):
    dana, _ = await _period(sessions)
    table = {row["agent_name"]: row for row in await KpiQueries(sessions).agents(MORNING)}
    assert set(table) == {"Dana", "Lee"}
    assert table["Dana"] == {
        "agent_id": dana,
        "agent_name": "Dana",
        "conversations_assigned": 1,
        "conversations_answered": 1,
        "responses": 2,
        "average_first_tar_seconds": 240.0,
        "average_tar_seconds": 180.0,  # (240 + 120) / 2
        "average_response_handle_seconds": 90.0,  # (60 + 120) / 2
        "average_conversation_handle_seconds": 600.0,
        "resolved": 1,
        # no survey answered (tests/handoff/test_csat_kpis.py)
        "csat_responses": 0,
        "csat_average": None,
        "csat_satisfied_rate": None,
        "nps_responses": 0,
        "nps": None,
        # no presence history (tests/handoff/test_presence_kpis.py)
        "online_seconds": 0,
        "away_seconds": 0,
        "idle_seconds": 0,
    }
    assert table["Lee"]["average_tar_seconds"] == (3600 + 1800) / 2
    assert table["Lee"]["average_response_handle_seconds"] == (1800 + 1800) / 2


async def test_series_and_drill_down(sessions):
    await _period(sessions)
    queries = KpiQueries(sessions)
    points = {p["bucket"]: p for p in await queries.series(MORNING, "hour")}
    assert points["2026-11-23T09:00"]["handoffs"] == 3
    assert points["2026-11-23T09:00"]["bot_contacts"] == 3
    assert points["2026-11-23T08:00"]["bot_contacts"] == 1  # the async customer at 08:59
    assert points["2026-11-23T09:00"]["first_response_p50"] == (240 + 3600) / 2
    abandoned = await queries.drill(MORNING, "abandoned")
    assert [row["sender_id"] for row in abandoned] == ["abandoned"]
    handled = await queries.drill(MORNING, "handled")
    assert {row["sender_id"] for row in handled} == {"handled", "async"}


async def test_refresh_rounds_recompute_only_what_changed_or_is_open(sessions):
    await _period(sessions)
    refresher = KpiRefresher(sessions)
    later = datetime.now(timezone.utc) + timedelta(minutes=10)
    # the first round stamped NOW (a day after T0): every row changed since; Sunday's is open
    async with sessions.begin() as session:
        await session.execute(update(Conversation).values(updated_at=at(0)))
        open_one = (
            await session.execute(
                update(Conversation)
                .where(Conversation.conversation_id == "sunday")
                .values(status="assigned")
            )
        ).rowcount
    assert open_one == 1
    assert await refresher.refresh(later) == 1  # only the conversation still with people
