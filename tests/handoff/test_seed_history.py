"""Demo history: realistic enough for the dashboard, computed by the real KPI code, replaced
(not doubled) when seeded again."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from handoff.models import Conversation
from handoff.roles import Role
from handoff.services.demo_history import seed_history
from handoff.services.kpis import KpiQueries, KpiRefresher, Slice
from harness.handoff_data import make_agent

NOW = datetime(2026, 11, 30, 18, 0, tzinfo=timezone.utc)


async def test_seeded_history_gives_every_kpi_something_to_show(sessions):
    for team in ("billing", "accounts", "orders", "devices", "care"):
        await make_agent(sessions, Role.AGENT, teams=(team,))
    count = await seed_history(sessions, days=4, per_day=60, seed=3, now=NOW)
    assert count > 100
    await KpiRefresher(sessions).refresh(NOW)
    summary = (await KpiQueries(sessions).summary(Slice(NOW - timedelta(days=4), NOW)))["current"]
    both = summary["all"]
    assert 0 < both["handoffs"] < count  # most conversations stay with the bot
    assert both["handled"] > 0 and both["first_response_seconds"] > 0
    assert summary["sync"]["first_response_seconds"] < summary["async"]["first_response_seconds"]
    assert 0.4 < summary["bot"]["containment_rate"] < 0.9
    agents = await KpiQueries(sessions).agents(Slice(NOW - timedelta(days=4), NOW))
    assert len(agents) == 5 and all(row["responses"] > 0 for row in agents)
    again = await seed_history(sessions, days=4, per_day=60, seed=3, now=NOW)
    async with sessions() as session:
        stored = await session.scalar(select(func.count()).select_from(Conversation))
    assert again == count == stored
