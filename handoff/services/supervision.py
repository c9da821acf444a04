"""The supervisor's live view: every team's queue (length, oldest waiting, conversations at SLA
risk) and every active agent's presence, load and current conversations."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff import views
from handoff.models import Conversation, utc_now
from handoff.queue_repository import QueueStore
from handoff.repositories import Agents, status_in
from handoff.services.presence import PresenceService
from handoff.states import WITH_PEOPLE, Status


class SupervisionService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        presence: PresenceService,
        warning: timedelta,
    ) -> None:
        self.sessions = sessions
        self.presence = presence
        self.warning = warning  # "at risk": the first response is due within this

    async def live(self) -> views.JSON:
        now = utc_now()
        async with self.sessions() as session:
            agents = Agents(session)
            teams = await agents.all_teams()
            modes = await QueueStore(session).team_modes()
            rows = list(await session.scalars(select(Conversation).where(status_in(WITH_PEOPLE))))
            active = await agents.active()
            people = await self.presence.views(session, [agent.id for agent in active])
        queued: dict[str, list[Conversation]] = defaultdict(list)
        at_risk: dict[str, list[str]] = defaultdict(list)
        owned: dict[str, list[views.JSON]] = defaultdict(list)
        for row in rows:
            risky = (
                row.first_response_at is None
                and row.sla_due_at is not None
                and row.sla_due_at <= now + self.warning
            )
            if risky:
                at_risk[row.team or ""].append(row.id)
            if row.status == Status.QUEUED.value:
                queued[row.team or ""].append(row)
            elif row.assigned_agent_id:
                owned[row.assigned_agent_id].append(
                    {
                        "id": row.id,
                        "customer": row.customer_name or row.customer_id,
                        "team": row.team,
                        "mode": row.mode,
                        "priority": row.priority_level,
                        "sla_due_at": views.iso(row.sla_due_at),
                        "first_response_at": views.iso(row.first_response_at),
                        "at_risk": risky,
                    }
                )
        team_views = []
        for team in teams:
            waiting = [row.queued_at for row in queued[team.id] if row.queued_at]
            oldest = int((now - min(waiting)).total_seconds()) if waiting else None
            team_views.append(
                {
                    **views.team(team),
                    "mode": modes.get(team.id, "pull"),
                    "queued": len(queued[team.id]),
                    "oldest_waiting_seconds": oldest,
                    "at_risk": at_risk[team.id],
                }
            )
        return {
            "at": views.iso(now),
            "teams": team_views,
            "agents": [{**agent, "conversations": owned[agent["id"]]} for agent in people],
        }
