"""Teams and active agents, as the console's transfer pickers show them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff import views
from handoff.repositories import Agents


class DirectoryService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def teams(self) -> list[views.JSON]:
        async with self.sessions() as session:
            return [views.team(row) for row in await Agents(session).all_teams()]

    async def agents(self) -> list[views.JSON]:
        async with self.sessions() as session:
            repository = Agents(session)
            rows = await repository.active()
            teams = await repository.teams_of(row.id for row in rows)
        return [views.agent(row, teams[row.id]) for row in rows]
