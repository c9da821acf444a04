"""The dashboard's live tiles count the agents online and away now, in all and per team they
are in (an agent in two teams counts in both, once in all); offline, disabled and never-seen
agents are not counted (docs/kpis.md, "Live tiles")."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import update

from handoff.live import LocalBroadcaster
from handoff.models import Agent
from handoff.queue_settings import QueueSettings
from handoff.services.kpis import KpiQueries
from handoff.services.presence import PresenceService
from harness.handoff_data import make_agent, make_conversation


async def test_agents_online_and_away_in_all_and_per_team(sessions):
    ada = await make_agent(sessions, name="Ada", teams=("billing", "devices"))
    bo = await make_agent(sessions, name="Bo", teams=("billing",))
    cy = await make_agent(sessions, name="Cy", teams=("devices",))
    dee = await make_agent(sessions, name="Dee")  # in no team
    eve = await make_agent(sessions, name="Eve", teams=("billing",))
    await make_agent(sessions, name="Fay", teams=("billing",))  # never opened the console
    await make_conversation(sessions)  # waiting in billing
    presence = PresenceService(sessions, LocalBroadcaster(), QueueSettings())
    for agent, state in (
        (ada, "online"),
        (bo, "online"),
        (bo, "away"),
        (cy, "online"),
        (cy, "offline"),
        (dee, "online"),
        (eve, "online"),
    ):
        await presence.set_presence(agent.id, state, agent.id)
    async with sessions.begin() as session:  # Eve is disabled while online
        await session.execute(update(Agent).where(Agent.id == eve.id).values(active=False))

    live = await KpiQueries(sessions).live(None, 0.8, datetime.now(timezone.utc))

    assert (live["agents_online"], live["agents_away"]) == (2, 1)  # Ada and Dee; Bo
    teams = {tile["team"]: tile for tile in live["teams"]}
    assert (teams["billing"]["agents_online"], teams["billing"]["agents_away"]) == (1, 1)
    assert teams["billing"]["waiting"] == 1
    # devices has no conversation with people, yet its row shows who is there
    assert teams["devices"] == {
        "team": "devices",
        "waiting": 0,
        "assigned": 0,
        "oldest_wait_seconds": None,
        "approaching": 0,
        "breached": 0,
        "agents_online": 1,
        "agents_away": 0,
    }
