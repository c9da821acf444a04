"""Queries and statements of the agents' queue (presence, capacity, team modes, automatic
assignment), on a caller's session: the caller owns the transaction."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.db import affected_rows, insert_for
from handoff.models import (
    Agent,
    AgentTeam,
    Assignment,
    ConsoleConnection,
    Conversation,
    Message,
    PendingReply,
    PresenceChange,
    QueueAgent,
    TeamQueue,
    utc_now,
)
from handoff.queue_settings import QueueSettings
from handoff.states import Status

ONLINE, AWAY, OFFLINE = "online", "away", "offline"
PRESENCES = (ONLINE, AWAY, OFFLINE)
AUTO, PULL = "auto", "pull"
TEAM_MODES = (AUTO, PULL)


def slot(mode: str | None) -> str:
    """Which capacity a conversation takes: `async` for answer-later ones, else `sync`."""
    return "async" if mode == "async" else "sync"


@dataclass
class Load:
    sync: int = 0
    async_: int = 0

    def of(self, kind: str) -> int:
        return self.async_ if kind == "async" else self.sync

    def add(self, kind: str) -> None:
        if kind == "async":
            self.async_ += 1
        else:
            self.sync += 1

    @property
    def total(self) -> int:
        return self.sync + self.async_

    def view(self) -> dict[str, int]:
        return {"sync": self.sync, "async": self.async_}


class QueueStore:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def ensure_agent(self, agent_id: str, defaults: QueueSettings) -> None:
        statement = (
            insert_for(self.session, QueueAgent)
            .values(
                agent_id=agent_id,
                presence=OFFLINE,
                presence_changed_at=utc_now(),
                max_sync=defaults.default_max_sync,
                max_async=defaults.default_max_async,
                in_training=False,
                lock_counter=0,
            )
            .on_conflict_do_nothing(index_elements=["agent_id"])
        )
        await self.session.execute(statement)

    async def agent(self, agent_id: str) -> QueueAgent | None:
        return await self.session.get(QueueAgent, agent_id, populate_existing=True)

    async def agents(self, agent_ids: Iterable[str]) -> dict[str, QueueAgent]:
        ids = list(agent_ids)
        if not ids:
            return {}
        rows = await self.session.scalars(select(QueueAgent).where(QueueAgent.agent_id.in_(ids)))
        return {row.agent_id: row for row in rows}

    async def update_agent(self, agent_id: str, *conditions: Any, **values: Any) -> bool:
        """Update the agent's row if `conditions` hold; a presence change (with
        `presence_changed_at`) is also kept in the presence history."""
        statement = (
            update(QueueAgent)
            .where(QueueAgent.agent_id == agent_id, *conditions)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        changed = await affected_rows(self.session, statement) == 1
        if changed and "presence_changed_at" in values:
            self.session.add(
                PresenceChange(
                    agent_id=agent_id, presence=values["presence"], at=values["presence_changed_at"]
                )
            )
        return changed

    async def lock_online_agent(self, agent_id: str) -> bool:
        """Take the agent's row (a row lock on PostgreSQL; SQLite holds the write lock from
        BEGIN IMMEDIATE) if they are still online: loads counted after this stay true until the
        commit, so no other transaction can fill the same capacity meanwhile."""
        return await self.update_agent(
            agent_id,
            QueueAgent.presence == ONLINE,
            lock_counter=QueueAgent.lock_counter + 1,
        )

    async def loads(self, agent_ids: Iterable[str] | None = None) -> dict[str, Load]:
        """Assigned conversations per agent, by capacity kind."""
        is_async = case((Conversation.mode == "async", 1), else_=0)
        query = (
            select(Conversation.assigned_agent_id, is_async, func.count())
            .where(
                Conversation.status == Status.ASSIGNED.value,
                Conversation.assigned_agent_id.is_not(None),
            )
            .group_by(Conversation.assigned_agent_id, is_async)
        )
        if agent_ids is not None:
            query = query.where(Conversation.assigned_agent_id.in_(list(agent_ids)))
        loads: dict[str, Load] = {}
        for agent_id, asynchronous, count in (await self.session.execute(query)).tuples():
            load = loads.setdefault(agent_id, Load())
            if asynchronous:
                load.async_ += count
            else:
                load.sync += count
        return loads

    async def team_modes(self) -> dict[str, str]:
        rows = await self.session.execute(select(TeamQueue.team_id, TeamQueue.mode))
        return dict(rows.tuples().all())

    async def set_team_mode(self, team_id: str, mode: str, by_agent_id: str | None) -> None:
        now = utc_now()
        statement = insert_for(self.session, TeamQueue).values(
            team_id=team_id, mode=mode, updated_at=now, updated_by_agent_id=by_agent_id
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["team_id"],
                set_={"mode": mode, "updated_at": now, "updated_by_agent_id": by_agent_id},
            )
        )

    async def queued(self, teams: Sequence[str], limit: int) -> Sequence[Conversation]:
        """Queued conversations of `teams` in the order they are handed out: priority, then
        SLA due time (none last), then waiting time (first in, first out)."""
        query = (
            select(Conversation)
            .where(Conversation.status == Status.QUEUED.value, Conversation.team.in_(teams))
            .order_by(
                Conversation.priority_level,
                Conversation.sla_due_at.is_(None),
                Conversation.sla_due_at,
                Conversation.queued_at,
                Conversation.id,
            )
            .limit(limit)
        )
        return (await self.session.scalars(query)).all()

    async def online_members(self, teams: Sequence[str]) -> Sequence[tuple[AgentTeam, QueueAgent]]:
        """Memberships of `teams` whose agent is active and online, with their queue rows."""
        query = (
            select(AgentTeam, QueueAgent)
            .join(QueueAgent, QueueAgent.agent_id == AgentTeam.agent_id)
            .join(Agent, Agent.id == AgentTeam.agent_id)
            .where(
                AgentTeam.team_id.in_(teams),
                QueueAgent.presence == ONLINE,
                Agent.active.is_(True),
            )
        )
        return (await self.session.execute(query)).tuples().all()

    async def presence_counts(self) -> tuple[Counter[str], dict[str, Counter[str]]]:
        """Active agents online and away now: how many in all, and per team they are in."""
        query = (
            select(QueueAgent.agent_id, QueueAgent.presence, AgentTeam.team_id)
            .join(Agent, Agent.id == QueueAgent.agent_id)
            .outerjoin(AgentTeam, AgentTeam.agent_id == QueueAgent.agent_id)
            .where(Agent.active.is_(True), QueueAgent.presence.in_((ONLINE, AWAY)))
        )
        present: dict[str, str] = {}
        teams: dict[str, Counter[str]] = defaultdict(Counter)
        for agent_id, presence, team in (await self.session.execute(query)).tuples():
            present[agent_id] = presence
            if team is not None:
                teams[team][presence] += 1
        return Counter(present.values()), teams

    async def timed_out_agents(self, rows: Sequence[Conversation]) -> dict[str, set[str]]:
        """Per conversation, the agents who let it time out since it was last queued: they
        are not given it again while it waits."""
        queued_at = {row.id: row.queued_at for row in rows}
        if not queued_at:
            return {}
        query = select(Assignment.conversation_id, Assignment.from_agent_id, Assignment.at).where(
            Assignment.conversation_id.in_(list(queued_at)),
            Assignment.action == "assignment_timeout",
        )
        ignored: dict[str, set[str]] = defaultdict(set)
        for conversation_pk, agent_id, at in (await self.session.execute(query)).tuples():
            since = queued_at[conversation_pk]
            if agent_id and (since is None or at >= since):
                ignored[conversation_pk].add(agent_id)
        return ignored

    async def owned_by(self, agent_id: str) -> Sequence[Conversation]:
        query = (
            select(Conversation)
            .where(
                Conversation.status == Status.ASSIGNED.value,
                Conversation.assigned_agent_id == agent_id,
            )
            .order_by(Conversation.assigned_at, Conversation.id)
        )
        return (await self.session.scalars(query)).all()

    async def unanswered(self, teams: Sequence[str], assigned_before: datetime) -> Sequence[Any]:
        """Assigned conversations of `teams` whose owner has written nothing (sent or waiting for
        approval) since they were assigned, assigned before `assigned_before`."""
        answered = (
            select(Message.id)
            .where(
                Message.conversation_id == Conversation.id,
                Message.author_agent_id == Conversation.assigned_agent_id,
                Message.created_at >= Conversation.assigned_at,
            )
            .exists()
        )
        waiting = (
            select(PendingReply.id)
            .where(
                PendingReply.conversation_id == Conversation.id,
                PendingReply.agent_id == Conversation.assigned_agent_id,
                PendingReply.created_at >= Conversation.assigned_at,
            )
            .exists()
        )
        query = select(Conversation).where(
            Conversation.status == Status.ASSIGNED.value,
            Conversation.team.in_(teams),
            Conversation.assigned_at <= assigned_before,
            ~answered,
            ~waiting,
        )
        return (await self.session.scalars(query)).all()

    async def add_connection(self, connection_id: str, agent_id: str, instance: str) -> None:
        now = utc_now()
        self.session.add(
            ConsoleConnection(
                id=connection_id,
                agent_id=agent_id,
                instance=instance,
                connected_at=now,
                seen_at=now,
            )
        )

    async def remove_connection(self, connection_id: str) -> str | None:
        """Remove the socket; its agent's id when it was their last one."""
        connection = await self.session.get(ConsoleConnection, connection_id)
        if connection is None:
            return None
        agent_id = connection.agent_id
        await self.session.delete(connection)
        await self.session.flush()
        return None if await self.connection_count(agent_id) else agent_id

    async def connection_count(self, agent_id: str) -> int:
        query = select(func.count()).where(ConsoleConnection.agent_id == agent_id)
        return int(await self.session.scalar(query) or 0)

    async def touch_connections(self, connection_ids: Iterable[str]) -> None:
        ids = list(connection_ids)
        if ids:
            await self.session.execute(
                update(ConsoleConnection)
                .where(ConsoleConnection.id.in_(ids))
                .values(seen_at=utc_now())
                .execution_options(synchronize_session=False)
            )

    async def drop_stale_connections(self, seen_before: datetime) -> None:
        """Sockets of instances that stopped; their agents count as disconnected from then."""
        stale = await self.session.execute(
            select(ConsoleConnection.agent_id, func.max(ConsoleConnection.seen_at))
            .where(ConsoleConnection.seen_at < seen_before)
            .group_by(ConsoleConnection.agent_id)
        )
        for agent_id, seen_at in stale.tuples().all():
            await self.update_agent(agent_id, disconnected_at=seen_at)
        await self.session.execute(
            delete(ConsoleConnection).where(ConsoleConnection.seen_at < seen_before)
        )

    async def away_candidates(self, cutoff: datetime) -> Sequence[str]:
        """Online agents without a console socket since before `cutoff`."""
        connected = (
            select(ConsoleConnection.id)
            .where(ConsoleConnection.agent_id == QueueAgent.agent_id)
            .exists()
        )
        query = select(QueueAgent.agent_id).where(
            QueueAgent.presence == ONLINE,
            QueueAgent.presence_changed_at <= cutoff,
            and_((QueueAgent.disconnected_at.is_(None)) | (QueueAgent.disconnected_at <= cutoff)),
            ~connected,
        )
        return (await self.session.scalars(query)).all()
