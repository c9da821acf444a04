"""Shared set-up of the agents' queue tests: services over a store, agents online in a team."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.live import LocalBroadcaster
from handoff.models import Assignment, Conversation
from handoff.queue_settings import QueueSettings
from handoff.services.assignment import AssignmentService
from handoff.services.presence import PresenceService
from harness.handoff_data import AgentLogin, make_agent, make_conversation, make_team


@dataclass
class Queue:
    sessions: async_sessionmaker[AsyncSession]
    live: LocalBroadcaster
    assignment: AssignmentService
    presence: PresenceService

    async def online_agent(
        self,
        team: str = "billing",
        *,
        max_sync: int = 3,
        max_async: int = 10,
        skills: list[str] | None = None,
        **options: Any,
    ) -> AgentLogin:
        agent = await make_agent(self.sessions, teams=(team,), **options)
        await self.presence.configure(agent.id, {"max_sync": max_sync, "max_async": max_async})
        if skills is not None:
            await self.presence.set_skills(agent.id, team, skills)
        await self.presence.set_presence(agent.id, "online", agent.id)
        return agent

    async def auto(self, team: str = "billing") -> None:
        await make_team(self.sessions, team)
        await self.assignment.set_team_mode(team, "auto", by_agent_id=None)

    async def handoff(self, **overrides: Any) -> str:
        return (await make_conversation(self.sessions, **overrides))["id"]

    async def row(self, conversation_pk: str) -> Conversation:
        async with self.sessions() as session:
            row = await session.get(Conversation, conversation_pk)
            assert row is not None
            return row

    async def history(self, action: str) -> list[Assignment]:
        async with self.sessions() as session:
            query = select(Assignment).where(Assignment.action == action).order_by(Assignment.id)
            return list(await session.scalars(query))


def make_queue(
    sessions: async_sessionmaker[AsyncSession], settings: QueueSettings | None = None
) -> Queue:
    settings = settings or QueueSettings()
    live = LocalBroadcaster()
    assignment = AssignmentService(sessions, live, settings)
    presence = PresenceService(sessions, live, settings, on_free=assignment.wake)
    return Queue(sessions, live, assignment, presence)
