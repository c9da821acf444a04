"""The supervisor's live view: every team's queue (length, oldest waiting, conversations at SLA
risk), every waiting conversation with its time left against the SLA target in force
(`handoff.services.kpis.open_sla`, docs/agent-queue.md), and every active agent's presence, load
and current conversations."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff import views
from handoff.models import Conversation, utc_now
from handoff.queue_repository import QueueStore
from handoff.repositories import Agents, status_in
from handoff.services.business_calendar import BusinessCalendar
from handoff.services.kpis import OpenSla, open_sla
from handoff.services.presence import PresenceService
from handoff.states import WITH_PEOPLE, Status


class SupervisionService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        presence: PresenceService,
        warning: timedelta,
        calendar: BusinessCalendar | None = None,
        warning_ratio: float = 0.8,
    ) -> None:
        self.sessions = sessions
        self.presence = presence
        self.warning = warning  # "at risk": the first response is due within this
        self.calendar = calendar
        self.warning_ratio = warning_ratio  # "approaching" in the waiting list (docs/kpis.md)

    async def live(self, now: datetime | None = None) -> views.JSON:
        now = now or utc_now()
        async with self.sessions() as session:
            agents = Agents(session)
            teams = await agents.all_teams()
            modes = await QueueStore(session).team_modes()
            rows = list(await session.scalars(select(Conversation).where(status_in(WITH_PEOPLE))))
            active = await agents.active()
            people = await self.presence.agent_views(session, [agent.id for agent in active])
        standing = {
            item.conversation_pk: item
            for item in await open_sla(self.sessions, self.calendar, self.warning_ratio, now)
        }
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
        waiting_rows = [
            waiting_view(row, standing.get(row.id), now)
            for team_rows in queued.values()
            for row in team_rows
        ]
        return {
            "at": views.iso(now),
            "teams": team_views,
            "waiting": sorted(waiting_rows, key=_most_urgent),
            "agents": [{**agent, "conversations": owned[agent["id"]]} for agent in people],
        }


def waiting_view(row: Conversation, sla: OpenSla | None, now: datetime) -> views.JSON:
    """A queued conversation; `sla` is None when no target applies to it."""
    waited = int((now - row.queued_at).total_seconds()) if row.queued_at else None
    return {
        "id": row.id,
        "customer": row.customer_name or row.customer_id,
        "team": row.team,
        "mode": row.mode,
        "priority": row.priority_level,
        "queued_at": views.iso(row.queued_at),
        "waited_seconds": waited,
        "sla_goal": sla.goal if sla else None,
        "sla_state": sla.state if sla else None,
        "sla_seconds_left": round(sla.seconds_left) if sla else None,
        "overdue": sla is not None and sla.seconds_left < 0,
    }


def _most_urgent(item: views.JSON) -> tuple[bool, float]:
    left = item["sla_seconds_left"]
    return (left is None, left if left is not None else -(item["waited_seconds"] or 0))
