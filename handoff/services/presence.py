"""Agents' presence (online, away, offline), capacity, skills and the training flag.

Presence is set in the console; an online agent whose console sockets all closed is set away
once `away_grace_seconds` passed without a socket (`sweep`, run by every instance: each change is
a conditional UPDATE). Sockets are rows (`console_connections`) so every instance sees them; an
instance refreshes its own every `heartbeat_seconds`, and the sockets of an instance that stopped
are dropped when stale. Going offline puts the agent's conversations back in the queue, each in
its place; going away keeps them (the agent is back soon) but gives them nothing new.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff import views
from handoff.errors import Invalid, NotFound
from handoff.live import Broadcaster
from handoff.models import AgentTeam, QueueAgent, new_id, utc_now
from handoff.queue_repository import AWAY, OFFLINE, ONLINE, PRESENCES, Load, QueueStore
from handoff.queue_settings import QueueSettings
from handoff.repositories import Agents
from handoff.services.requeue import requeue
from handoff.services.views import load_conversation

logger = logging.getLogger(__name__)

SKILL_KINDS = ("language", "topic", "device")
MAX_SKILLS = 50
MAX_SKILL_VALUE = 50
MAX_CAPACITY = 100


def checked_skills(value: Any) -> list[str]:
    """`["language:de", "device:thermostat", ...]`, lower-cased; 422 naming the bad entry."""
    if not isinstance(value, list) or len(value) > MAX_SKILLS:
        raise Invalid(f"skills must be a list of at most {MAX_SKILLS} strings.", "invalid_skills")
    skills: list[str] = []
    for entry in value:
        kind, _, skill = entry.partition(":") if isinstance(entry, str) else ("", "", "")
        skill = skill.strip().lower()
        if kind not in SKILL_KINDS or not skill or len(skill) > MAX_SKILL_VALUE:
            raise Invalid(
                f"skill {entry!r}: expected '<kind>:<value>' with kind one of"
                f" {', '.join(SKILL_KINDS)} and a value of 1..{MAX_SKILL_VALUE} characters.",
                "invalid_skills",
            )
        if f"{kind}:{skill}" not in skills:
            skills.append(f"{kind}:{skill}")
    return skills


def agent_view(
    agent_id: str, name: str, row: QueueAgent | None, load: Load | None, settings: QueueSettings
) -> views.JSON:
    return {
        "id": agent_id,
        "name": name,
        "presence": row.presence if row else OFFLINE,
        "presence_changed_at": views.iso(row.presence_changed_at) if row else None,
        "max_sync": row.max_sync if row else settings.default_max_sync,
        "max_async": row.max_async if row else settings.default_max_async,
        "in_training": bool(row and row.in_training),
        "load": (load or Load()).view(),
    }


class PresenceService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        live: Broadcaster,
        settings: QueueSettings,
        on_free: Callable[[], None] = lambda: None,
    ) -> None:
        self.sessions = sessions
        self.live = live
        self.settings = settings
        self.on_free = on_free  # an agent came online or capacity was freed: assign again
        self.instance = uuid.uuid4().hex
        self._sockets: set[str] = set()
        self._closing: set[asyncio.Future[None]] = set()

    async def agent_views(
        self, session: AsyncSession, agent_ids: Sequence[str]
    ) -> list[views.JSON]:
        names = await Agents(session).names(agent_ids)
        store = QueueStore(session)
        rows = await store.agents(agent_ids)
        loads = await store.loads(agent_ids)
        return [
            agent_view(i, names.get(i, ""), rows.get(i), loads.get(i), self.settings)
            for i in agent_ids
        ]

    async def get(self, agent_id: str) -> views.JSON:
        async with self.sessions() as session:
            if await Agents(session).get(agent_id) is None:
                raise NotFound(f"No agent {agent_id!r}.", "unknown_agent")
            return (await self.agent_views(session, [agent_id]))[0]

    async def in_training(self, agent_id: str) -> bool:
        async with self.sessions() as session:
            row = await QueueStore(session).agent(agent_id)
        return bool(row and row.in_training)

    async def set_presence(self, agent_id: str, presence: Any, by_agent_id: str) -> views.JSON:
        if presence not in PRESENCES:
            raise Invalid(f"presence must be one of {', '.join(PRESENCES)}.", "invalid_presence")
        requeued: list[str] = []
        async with self.sessions.begin() as session:
            store = QueueStore(session)
            await store.ensure_agent(agent_id, self.settings)
            await store.update_agent(agent_id, presence=presence, presence_changed_at=utc_now())
            if presence == OFFLINE:
                name = (await Agents(session).names([agent_id])).get(agent_id, "The agent")
                note = f"{name} went offline; back in the queue in its place."
                for row in await store.owned_by(agent_id):
                    if await requeue(
                        session, row, action="requeue_offline", note=note, by_agent_id=by_agent_id
                    ):
                        requeued.append(row.id)
        await self.announce([agent_id])
        await self.announce_requeued(requeued, "agent_offline")
        if presence == ONLINE or requeued:
            self.on_free()
        return await self.get(agent_id)

    async def configure(self, agent_id: str, changes: dict[str, Any]) -> views.JSON:
        """Set `max_sync`, `max_async` and/or `in_training` (a supervisor's call)."""
        values: dict[str, Any] = {}
        for name in ("max_sync", "max_async"):
            if (value := changes.get(name)) is not None:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise Invalid(f"{name} must be a whole number.", "invalid_capacity")
                if not 0 <= value <= MAX_CAPACITY:
                    raise Invalid(f"{name} must be 0..{MAX_CAPACITY}.", "invalid_capacity")
                values[name] = value
        if (training := changes.get("in_training")) is not None:
            if not isinstance(training, bool):
                raise Invalid("in_training must be true or false.", "invalid_training")
            values["in_training"] = training
        if not values:
            raise Invalid("Give max_sync, max_async or in_training.", "nothing_to_change")
        async with self.sessions.begin() as session:
            if await Agents(session).get(agent_id) is None:
                raise NotFound(f"No agent {agent_id!r}.", "unknown_agent")
            store = QueueStore(session)
            await store.ensure_agent(agent_id, self.settings)
            await store.update_agent(agent_id, **values)
        await self.announce([agent_id])
        self.on_free()
        return await self.get(agent_id)

    async def skills(self, agent_id: str) -> dict[str, list[str]]:
        async with self.sessions() as session:
            if await Agents(session).get(agent_id) is None:
                raise NotFound(f"No agent {agent_id!r}.", "unknown_agent")
            memberships = await session.scalars(
                select(AgentTeam).where(AgentTeam.agent_id == agent_id).order_by(AgentTeam.team_id)
            )
            return {row.team_id: list(row.skills or []) for row in memberships}

    async def set_skills(self, agent_id: str, team: Any, skills: Any) -> dict[str, list[str]]:
        checked = checked_skills(skills)
        if not isinstance(team, str):
            raise Invalid("team must be a string.", "unknown_team")
        async with self.sessions.begin() as session:
            membership = await session.get(AgentTeam, (agent_id, team))
            if membership is None:
                raise Invalid(f"The agent is not in team {team!r}.", "not_in_team")
            membership.skills = checked
        self.on_free()
        return await self.skills(agent_id)

    # ---- console sockets ----

    async def connected(self, agent_id: str) -> str:
        connection_id = new_id()
        async with self.sessions.begin() as session:
            store = QueueStore(session)
            await store.ensure_agent(agent_id, self.settings)
            await store.add_connection(connection_id, agent_id, self.instance)
            await store.update_agent(agent_id, disconnected_at=None)
        self._sockets.add(connection_id)
        return connection_id

    def disconnect(self, connection_id: str) -> asyncio.Future[None]:
        """Forget the socket in a task of its own, which runs to the end even when the caller
        is cancelled (sanic cancels a websocket handler whose client went); `close()` waits
        for the ones still running."""
        task = asyncio.ensure_future(self.disconnected(connection_id))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        return task

    async def close(self) -> None:
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def disconnected(self, connection_id: str) -> None:
        self._sockets.discard(connection_id)
        async with self.sessions.begin() as session:
            store = QueueStore(session)
            if (agent_id := await store.remove_connection(connection_id)) is not None:
                await store.update_agent(agent_id, disconnected_at=utc_now())

    async def heartbeat(self) -> None:
        async with self.sessions.begin() as session:
            await QueueStore(session).touch_connections(self._sockets)

    async def sweep(self) -> list[str]:
        """Drop stale sockets, then set away the online agents without a socket for longer than
        the grace period; their ids."""
        now = utc_now()
        stale = now - timedelta(seconds=3 * self.settings.heartbeat_seconds)
        cutoff = now - timedelta(seconds=self.settings.away_grace_seconds)
        away: list[str] = []
        async with self.sessions.begin() as session:
            store = QueueStore(session)
            await store.drop_stale_connections(stale)
            for agent_id in await store.away_candidates(cutoff):
                changed = await store.update_agent(
                    agent_id,
                    QueueAgent.presence == ONLINE,
                    presence=AWAY,
                    presence_changed_at=now,
                )
                if changed:
                    away.append(agent_id)
        if away:
            logger.info("set %d agent(s) away: no console connection", len(away))
            await self.announce(away)
        return away

    async def announce(self, agent_ids: Iterable[str]) -> None:
        ids = list(agent_ids)
        async with self.sessions() as session:
            agents = await self.agent_views(session, ids)
        for agent in agents:
            await self.live.publish({"type": "agent.presence", "agent": agent})

    async def announce_requeued(self, conversation_pks: Iterable[str], reason: str) -> None:
        for conversation_pk in conversation_pks:
            async with self.sessions() as session:
                view = await load_conversation(session, conversation_pk)
            await self.live.publish(
                {"type": "conversation.requeued", "reason": reason, "conversation": view}
            )
