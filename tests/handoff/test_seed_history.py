"""Demo history: realistic enough for the dashboard, computed by the real KPI code (surveys and
the agents' shifts included), replaced (not doubled) when seeded again."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from handoff.models import Conversation, CsatSurvey, PresenceChange
from handoff.roles import Role
from handoff.services.demo_history import seed_history
from handoff.services.kpis import KpiQueries, KpiRefresher, Slice
from harness.handoff_data import make_agent

pytestmark = pytest.mark.one_store  # the demo data generator: not the database

NOW = datetime(2026, 11, 30, 18, 0, tzinfo=timezone.utc)  # a Monday
TODAY = NOW.replace(hour=0)
DAYS = Slice(NOW - timedelta(days=4), NOW)
TEAMS = ("billing", "accounts", "orders", "devices", "care")


async def count(sessions, *where) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).where(*where))


async def test_seeded_history_gives_every_kpi_something_to_show(sessions):
    for team in TEAMS:
        await make_agent(sessions, Role.AGENT, teams=(team,))
    conversations = await seed_history(sessions, days=4, per_day=60, seed=3, now=NOW)
    assert conversations > 100
    await KpiRefresher(sessions).refresh(NOW)
    summary = (await KpiQueries(sessions).summary(DAYS))["current"]
    both = summary["all"]
    assert 0 < both["handoffs"] < conversations  # most conversations stay with the bot
    assert both["handled"] > 0 and both["first_response_seconds"] > 0
    assert summary["sync"]["first_response_seconds"] < summary["async"]["first_response_seconds"]
    assert 0.4 < summary["bot"]["containment_rate"] < 0.9
    agents = await KpiQueries(sessions).agents(DAYS)
    assert len(agents) == 5 and all(row["responses"] > 0 for row in agents)
    again = await seed_history(sessions, days=4, per_day=60, seed=3, now=NOW)
    assert again == conversations == await count(sessions, Conversation.id.is_not(None))


async def test_seeded_surveys_and_shifts_fill_the_satisfaction_and_idle_figures(sessions):
    for team in TEAMS:
        await make_agent(sessions, Role.AGENT, teams=(team,))
    await seed_history(sessions, days=4, per_day=120, seed=3, now=NOW)
    await KpiRefresher(sessions).refresh(NOW)
    queries = KpiQueries(sessions)
    rows = await queries.agents(DAYS)
    assert all(row["csat_responses"] > 0 and 1 <= row["csat_average"] <= 5 for row in rows)
    assert all(0 < row["idle_seconds"] < row["online_seconds"] for row in rows)
    daily = [point["csat_satisfied_rate"] for point in await queries.series(DAYS, "day")]
    assert any(rate is not None and 0 < rate < 1 for rate in daily)
    idle = (await queries.summary(DAYS, compare=False))["current"]
    for group in ("sync", "async", "all"):
        assert idle[group]["agent_idle_seconds"] > 0 and 0 < idle[group]["agent_idle_rate"] < 1
    assert idle["all"]["agent_idle_seconds"] < idle["sync"]["agent_idle_seconds"]
    # every survey is decided, none left for the service to send to a made-up customer
    statuses = {"answered", "sent", "skipped"}
    surveys = await count(sessions, CsatSurvey.status.in_(statuses))
    assert surveys > 0 and surveys == await count(sessions, CsatSurvey.id.is_not(None))
    # shifts on the days before today only: today's real changes stay, and survive a reseed
    assert await count(sessions, PresenceChange.at >= TODAY) == 0
    shifts = await count(sessions, PresenceChange.id.is_not(None))
    async with sessions.begin() as session:
        session.add(PresenceChange(agent_id=rows[0]["agent_id"], presence="online", at=NOW))
    await seed_history(sessions, days=4, per_day=120, seed=3, now=NOW, scale="nps_10")
    assert await count(sessions, PresenceChange.id.is_not(None)) == shifts + 1
    assert await count(sessions, CsatSurvey.id.is_not(None)) == surveys
    assert await count(sessions, CsatSurvey.scale == "nps_10") == surveys
    await KpiRefresher(sessions).refresh(NOW)
    assert all(row["nps_responses"] > 0 for row in await queries.agents(DAYS))
